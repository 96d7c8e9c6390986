import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { ExactNumber } from '../src/formats/exact-number.js';
import { migrate } from '../src/pipeline.js';
import fileSink, { createSink } from '../src/sinks/file.js';
import fileSource, { createSource, type FileSourceOptions } from '../src/sources/file.js';
import type { Doc, Position, SourceChunk } from '../src/types.js';
import { corpus } from './corpus.js';
import { failure, testAdapterOptions } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'etl-file-'));
let count = 0;
const path = (name: string) => join(dir, `${count++}-${name}`);
const uri = (p: string) => ({ scheme: 'file', rest: p, raw: `file:${p}` });
const signal = new AbortController().signal;

/** Reads a path, or a stream as `file:-` reads stdin. */
async function readChunks(p: string | Readable, options: Omit<FileSourceOptions, 'warn'> & { resumeFrom?: Position; collections?: string[] } = {}): Promise<SourceChunk[]> {
  const source =
    typeof p === 'string'
      ? await fileSource(uri(p), { ...testAdapterOptions({ batchSize: options.batchSize }), ...options })
      : createSource({ stream: p, name: 'stdin', owns: false }, { ...testAdapterOptions(), ...options }, 'file:-');
  const chunks: SourceChunk[] = [];
  for await (const chunk of source.read({ signal, resumeFrom: options.resumeFrom, collections: options.collections && new Set(options.collections) })) chunks.push(chunk);
  return chunks;
}

function byCollection(chunks: SourceChunk[]): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (const chunk of chunks) (out[chunk.collection] ??= []).push(...chunk.docs);
  return out;
}

async function writeFile(p: string, data: Record<string, Doc[]>, provider = 'memory'): Promise<void> {
  const sink = fileSink(uri(p), testAdapterOptions());
  await sink.begin?.({ sourceProvider: provider });
  for (const [collection, docs] of Object.entries(data)) {
    await sink.prepare(collection);
    await sink.write(collection, docs, signal);
  }
  await sink.close(true);
}

const docs = { agents: [{ _id: 'a1', n: 1, s: 'x' }, { _id: 'a2', list: [1, { deep: [true, null] }] }], empty: [], users: [{ _id: 'u1' }] };

describe('file source: export shapes', () => {
  test.each([
    ['pretty, metadata first (export.py)', JSON.stringify({ metadata: { provider: 'couchdb', exported_at: 'x', collections: ['agents', 'empty', 'users'] }, data: docs }, null, 2)],
    ['compact', JSON.stringify({ metadata: { provider: 'couchdb' }, data: docs })],
    ['metadata after data, other keys around', JSON.stringify({ version: [1, { a: '}]' }], data: docs, note: 'x"]}', metadata: { provider: 'couchdb' } }, null, 4)],
    ['no metadata, tabs and CRLF', JSON.stringify({ data: docs }, null, '\t').replace(/\n/g, '\r\n')],
  ])('%s', async (_name, text) => {
    const p = path('shape.json');
    writeFileSync(p, text);
    const chunks = await readChunks(p);
    expect(byCollection(chunks)).toEqual(docs);
    // every collection is announced by an empty chunk before its documents
    expect(chunks.filter((c) => c.docs.length === 0).map((c) => c.collection)).toEqual(['agents', 'empty', 'users']);
    const source = await fileSource(uri(p), testAdapterOptions());
    expect(source.provider).toBe(text.includes('couchdb') ? 'couchdb' : 'file');
  });

  test('passes non-object documents through unvalidated', async () => {
    const p = path('odd.json');
    writeFileSync(p, '{"data":{"c":["s",42,1.50,null,[1],{"no_id":true},true]}}');
    const [, chunk] = await readChunks(p);
    expect(chunk!.docs).toEqual(['s', 42, new ExactNumber('1.50'), null, [1], { no_id: true }, true]);
  });

  test('reads only the chosen collections and says where each document is', async () => {
    const p = path('where.json');
    const text = JSON.stringify({ data: docs }, null, 2);
    writeFileSync(p, text);
    const chunks = await readChunks(p, { collections: ['users'] });
    expect(chunks.map((c) => c.collection)).toEqual(['users', 'users']);
    expect(chunks[1]!.where!(0)).toBe(`${p} byte ${Buffer.byteLength(text.slice(0, text.lastIndexOf('{', text.indexOf('"_id": "u1"'))))}`);
  });

  test('lists collections from metadata at the head or (our own files) at the tail', async () => {
    const head = path('head.json');
    writeFileSync(head, JSON.stringify({ metadata: { collections: ['x', 'y'] }, data: {} }, null, 2));
    expect(await (await fileSource(uri(head), testAdapterOptions())).listCollections()).toEqual(['x', 'y']);
    const tail = path('tail.json');
    await writeFile(tail, { first: [], metadata: [{ _id: 'metadata', metadata: { collections: ['fake'] } }] });
    expect(await (await fileSource(uri(tail), testAdapterOptions())).listCollections()).toEqual(['first', 'metadata']);
    const none = path('none.json');
    writeFileSync(none, '{"data":{"a":[]}}');
    expect(await (await fileSource(uri(none), testAdapterOptions())).listCollections()).toBeUndefined();
  });
});

describe('exact numbers and unicode', () => {
  const digits = ['9007199254740993', '-9223372036854775808', '0.10000000000000000001', '1.0', '1.50', '1e400', '12345678901234567890.12345678901234567890'];

  test('file → file keeps every number digit for digit (json → ndjson → json.gz → json)', async () => {
    const input = path('numbers.json');
    const fields = digits.map((d, i) => `"n${i}": ${d}`).join(', ');
    writeFileSync(input, `{"data": {"numbers": [{"_id": "n", ${fields}, "list": [${digits.join(', ')}], "plain": 0.5}]}}`);
    const ndjson = path('numbers.ndjson');
    const gz = path('numbers.json.gz');
    const output = path('numbers-out.json');
    await migrate({ from: `file:${input}`, to: `file:${ndjson}` });
    await migrate({ from: `file:${ndjson}`, to: `file:${gz}` });
    await migrate({ from: `file:${gz}`, to: `file:${output}` });
    const text = readFileSync(output, 'utf8');
    for (const [i, d] of digits.entries()) expect(text).toContain(`"n${i}": ${d},`);
    expect(text.replace(/\s+/g, '')).toContain(`"list":[${digits.join(',')}]`);
    expect(readFileSync(ndjson, 'utf8')).toContain(`"list":[${digits.join(',')}]`);
  });

  test('multi-byte characters survive every buffer split', async () => {
    const p = path('unicode.json');
    await writeFile(p, corpus());
    const expected = byCollection(await readChunks(p));
    expect(expected.agents).toEqual(corpus().agents);
    for (const highWaterMark of [1, 2, 3, 5, 7, 64]) {
      expect(byCollection(await readChunks(p, { highWaterMark }))).toEqual(expected);
    }
    const nd = path('unicode.ndjson');
    await writeFile(nd, corpus());
    for (const highWaterMark of [1, 3, 7]) expect(byCollection(await readChunks(nd, { highWaterMark }))).toEqual(expected);
  });

  test('a string ending in backslashes at a buffer boundary', async () => {
    const p = path('backslash.json');
    const tricky = [{ _id: 'b', s: 'a\\', t: '\\\\"', u: '"\\"' }, { _id: 'c', s: '\\' }];
    writeFileSync(p, JSON.stringify({ data: { x: tricky } }));
    for (const highWaterMark of [1, 2, 3, 4, 5, 6, 7, 8]) expect(byCollection(await readChunks(p, { highWaterMark })).x).toEqual(tricky);
  });
});

describe('file sink', () => {
  test('writes an export that Python json.load reads, mode 0600, metadata last', async () => {
    const p = path('python.json');
    await writeFile(p, corpus(), 'couchdb');
    expect(statSync(p).mode & 0o777).toBe(0o600);
    const out = execFileSync('python3', ['-c', 'import json,sys; d=json.load(open(sys.argv[1], encoding="utf-8")); print(json.dumps([d["metadata"]["provider"], d["metadata"]["collections"], {k: len(v) for k, v in d["data"].items()}, d["data"]["users"][0]["usage"]["tokens"], d["data"]["agents"][0]["name"]], ensure_ascii=False))', p], { encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual(['couchdb', ['agents', 'users', 'sessions', 'tickets'], { agents: 3, users: 2, sessions: 1, tickets: 1 }, 9007199254740992, 'Résumé screener 🤖']);
    expect(out).toContain('9007199254740993');
    const text = readFileSync(p, 'utf8');
    expect(text.indexOf('"metadata"')).toBeGreaterThan(text.indexOf('"data"'));
    expect(text).toContain('\n      {\n        "_id": "agent-1",');
  });

  test('close(false) leaves neither the file nor a temp file', async () => {
    const sub = mkdtempSync(join(dir, 'fail-'));
    const p = join(sub, 'backup.json');
    const sink = fileSink(uri(p), testAdapterOptions());
    await sink.prepare('agents');
    await sink.write('agents', [{ _id: 'a' }], signal);
    expect(readdirSync(sub)).toEqual([`.backup.json.${process.pid}.tmp`]);
    await sink.close(false);
    expect(readdirSync(sub)).toEqual([]);
  });

  test('refuses a write for a collection that is not the open one, and reopening a finished one', async () => {
    const sink = fileSink(uri(path('order.json')), testAdapterOptions());
    await sink.prepare('a');
    await sink.prepare('b');
    await expect(sink.write('a', [{ _id: 'x' }], signal)).rejects.toThrow(/"a".*"b" is open/);
    await expect(sink.prepare('a')).rejects.toThrow(/already written/);
    await sink.close(false);
  });

  test('gzips by suffix and reads .gz back; stdin is sniffed (gzip, then JSON or NDJSON)', async () => {
    for (const name of ['g.json.gz', 'g.ndjson.gz']) {
      const p = path(name);
      await writeFile(p, corpus());
      expect(readFileSync(p).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
      expect(byCollection(await readChunks(p))).toEqual(corpus());
      for (const bytes of [readFileSync(p), gunzipSync(readFileSync(p))]) {
        const chunks = await readChunks(Readable.from([bytes.subarray(0, 1), bytes.subarray(1)]));
        expect(byCollection(chunks)).toEqual(corpus());
      }
    }
  });

  test('stdout: file:- writes the export to the stream', async () => {
    const stdout = new PassThrough();
    const parts: Buffer[] = [];
    stdout.on('data', (b: Buffer) => parts.push(b));
    const sink = createSink({ stream: stdout, name: 'stdout', owns: true }, {}, 'file:-');
    await sink.prepare('agents');
    await sink.write('agents', corpus().agents!, signal);
    await sink.close(true);
    const value = JSON.parse(Buffer.concat(parts).toString('utf8'));
    expect(value.data.agents).toEqual(corpus().agents);
    expect(value.metadata.collections).toEqual(['agents']);
  });

  test('ndjson ↔ json round trip', async () => {
    const nd = path('rt.ndjson');
    const json = path('rt.json');
    const back = path('rt-back.jsonl');
    await writeFile(nd, corpus());
    await migrate({ from: `file:${nd}`, to: `file:${json}` });
    await migrate({ from: `file:${json}`, to: `file:${back}` });
    expect(byCollection(await readChunks(back))).toEqual(corpus());
    expect(readFileSync(back, 'utf8').split('\n')[0]).toBe('{"collection":"agents"}');
  });
});

describe('resume and errors', () => {
  test.each(['r.json', 'r.json.gz', 'r.ndjson'])('%s resumes from a mid-file position with exactly the remaining documents', async (name) => {
    const p = path(name);
    const all = Array.from({ length: 50 }, (_, i) => ({ _id: `d${i}`, i, text: 'é'.repeat(i) }));
    await writeFile(p, { before: [{ _id: 'b' }], main: all, after: [{ _id: 'z' }] });
    const chunks = await readChunks(p, { batchSize: 7 });
    const cut = chunks.findIndex((c) => c.collection === 'main' && c.docs.length > 0) + 2;
    const rest = await readChunks(p, { batchSize: 7, resumeFrom: JSON.parse(JSON.stringify(chunks[cut]!.position)) });
    expect(byCollection(rest)).toEqual(byCollection(chunks.slice(cut + 1)));
    expect(byCollection(rest).main).toEqual(all.slice(21));
  });

  test('reports progress in on-disk bytes and stops when the signal aborts', async () => {
    const p = path('progress.json');
    await writeFile(p, { many: Array.from({ length: 3000 }, (_, i) => ({ _id: `d${i}`, pad: 'x'.repeat(100 + (i % 7)) })) });
    const source = await fileSource(uri(p), { ...testAdapterOptions({ batchSize: 100 }), highWaterMark: 4096 });
    const controller = new AbortController();
    let read = 0;
    const run = async () => {
      for await (const chunk of source.read({ signal: controller.signal })) {
        read += chunk.docs.length;
        if (read >= 1000) controller.abort();
      }
    };
    await expect(run()).rejects.toThrow(/abort/i);
    const progress = source.progress!()!;
    expect(progress.total).toBe(statSync(p).size);
    expect(progress.done).toBeGreaterThan(0);
    expect(progress.done).toBeLessThan(progress.total);
  });

  test('stdin cannot resume', async () => {
    const error = await failure(() => readChunks(Readable.from([Buffer.from('{}')]), { resumeFrom: { format: 'json', offset: 1, collection: 'a', afterDoc: true } }));
    expect(error.kind).toBe('usage');
  });

  test('a missing file is a usage error', async () => {
    const error = await failure(() => fileSource(uri(join(dir, 'nope.json')), testAdapterOptions()));
    expect(error.kind).toBe('usage');
    expect(error.code).toBe('file-not-found');
  });

  test('a truncated file names the byte, line and collection', async () => {
    const p = path('cut.json');
    const bytes = Buffer.from(JSON.stringify({ data: { agents: corpus().agents } }, null, 2)).subarray(0, 200);
    writeFileSync(p, bytes);
    const error = await failure(() => readChunks(p, { highWaterMark: 64 }));
    expect(error.kind).toBe('fatal');
    expect(error.code).toBe('malformed-input');
    expect(error.message).toBe(`${p}: unexpected end of file at byte 200 (line ${bytes.toString('latin1').split('\n').length}) in collection "agents"`);
  });

  test('a malformed document names its byte and line', async () => {
    const p = path('bad.json');
    const text = '{\n  "data": {\n    "agents": [\n      {"_id": "a", "x": 1},\n      {"_id": "b", "x": tru}\n    ]\n  }\n}\n';
    writeFileSync(p, text);
    const error = await failure(() => readChunks(p));
    expect(error.message).toBe(`${p}: unexpected token "t" at byte ${text.indexOf('tru')} (line 5) in collection "agents"`);
  });

  test('a gzip file cut short is malformed input', async () => {
    const p = path('cut.json.gz');
    writeFileSync(p, gzipSync(JSON.stringify({ data: { a: [{ _id: 'x'.repeat(10000) }] } })).subarray(0, 60));
    const error = await failure(() => readChunks(p));
    expect(error.code).toBe('malformed-input');
  });

  test.each([
    ['[{"_id": "a"}]', /not an export: the top-level value is an array/],
    ['{"metadata": {}}', /not an export: no top-level "data" object/],
    ['{"data": {"a": {"_id": "x"}}}', /collection "a" is not an array/],
    ['{"data": {}} x', /unexpected 'x' after the end of the export at byte 13/],
  ])('%s is not an export', async (text, message) => {
    const p = path('notexport.json');
    writeFileSync(p, text);
    // Read as our export: by content, a top-level array is read as the `array` format (see foreign-formats.test.ts).
    const error = await failure(() => readChunks(p, { format: 'json' }));
    expect(error.kind).toBe('fatal');
    expect(error.message).toMatch(message);
  });

  test('a bad NDJSON line names its line', async () => {
    const p = path('bad.ndjson');
    writeFileSync(p, '{"collection":"a"}\n{"collection":"a","doc":{"_id":"x"}}\n\n{"collection":"a","doc":{"_id":}}\n');
    const error = await failure(() => readChunks(p));
    expect(error.message).toMatch(new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: line 4: .* at byte \\d+ in collection "a"$`));
  });
});
