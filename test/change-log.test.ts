/**
 * The file store's side of `--follow`: a change log written as changes come (documents and
 * tombstones, in place, in the file before each write resolves, appended to by a resumed run) and
 * read back as chunks of documents and of deletes in the order of its lines.
 */
import { appendFileSync, existsSync, mkdtempSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import fileSink, { createSink } from '../src/sinks/file.js';
import fileSource, { createSource } from '../src/sources/file.js';
import { memoryStore } from '../src/stores/memory/store.js';
import { verify } from '../src/verify/verify.js';
import type { Doc, Position, Sink, SourceChunk } from '../src/types.js';
import { failure, testAdapterOptions } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'etl-log-'));
let count = 0;
const path = (name: string) => join(dir, `${count++}-${name}`);
const uri = (p: string) => ({ scheme: 'file', rest: p, raw: `file:${p}` });
const signal = new AbortController().signal;

/** A follow sink at `p`, begun (`resumed` as a --resume run begins it). */
async function logSink(p: string, resumed = false, warnings: string[] = []): Promise<Sink> {
  const sink = fileSink(uri(p), testAdapterOptions({ follow: true, warn: (m) => warnings.push(m) }));
  await sink.begin!({ sourceProvider: 'memory', resumed });
  return sink;
}

/** Writes these changes in order: a document, or `{ deleted }`. */
async function change(sink: Sink, collection: string, ...changes: (Doc | { deleted: string })[]): Promise<void> {
  await sink.prepare(collection);
  for (const c of changes) {
    // A document has an _id; `{ deleted }` is a deletion.
    if (!('_id' in c)) expect(await sink.remove!(collection, [c.deleted as string], signal)).toEqual([{ status: 'written' }]);
    else expect(await sink.write(collection, [c], signal)).toEqual([{ status: 'written' }]);
  }
}

const lines = (text: string) => text.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
/** The line each run of a change log begins with. */
const head = { metadata: { provider: 'memory', changes: true } };

async function readChunks(p: string | Readable, options: { resumeFrom?: Position; batchSize?: number; collections?: string[] } = {}): Promise<SourceChunk[]> {
  const source =
    typeof p === 'string'
      ? await fileSource(uri(p), testAdapterOptions({ batchSize: options.batchSize }))
      : createSource({ stream: p, name: 'stdin', owns: false }, testAdapterOptions({ batchSize: options.batchSize }), 'file:-');
  const chunks: SourceChunk[] = [];
  for await (const chunk of source.read({ signal, resumeFrom: options.resumeFrom, collections: options.collections && new Set(options.collections) })) chunks.push(chunk);
  return chunks;
}

/** Chunks as what they carry: `+collection [ids]` for documents, `-collection [ids]` for deletes (announcements left out). */
const shape = (chunks: SourceChunk[]) =>
  chunks.filter((c) => c.docs.length > 0 || c.deletes).map((c) => (c.deletes ? `-${c.collection} ${c.deletes.join(',')}` : `+${c.collection} ${c.docs.map((d) => (d as Doc)._id).join(',')}`));

const log = [
  '{"collection":"agents"}',
  '{"collection":"agents","doc":{"_id":"a1","v":1}}',
  '{"collection":"agents","doc":{"_id":"a2","v":1}}',
  '{"collection":"users"}',
  '{"collection":"agents","deleted":"a1"}',
  '{"collection":"agents","deleted":"a2"}',
  '{"collection":"agents","doc":{"_id":"a1","v":2}}',
  '{"collection":"users","doc":{"_id":"u1","big":12345678901234567890}}',
  '{"collection":"users","deleted":"u1"}',
  '{"metadata":{"provider":"couchdb","exported_at":"2026-01-01T00:00:00.000Z"}}',
].join('\n') + '\n';

describe('writing a change log (--follow into a file)', () => {
  test('documents and tombstones go into the file in order, each before its write resolves; the end adds metadata without a list of collections', async () => {
    const p = path('log.ndjson');
    const sink = await logSink(p);
    await change(sink, 'agents', { _id: 'a1', v: 1 });
    // Usable while the follow runs: the line is in the file already.
    expect(lines(readFileSync(p, 'utf8'))).toEqual([head, { collection: 'agents' }, { collection: 'agents', doc: { _id: 'a1', v: 1 } }]);
    await change(sink, 'users', { _id: 'u1' });
    await change(sink, 'agents', { deleted: 'a1' }, { _id: 'a2' });
    expect(readFileSync(p, 'utf8').split('\n').slice(-3, -1)).toEqual(['{"collection":"agents","deleted":"a1"}', '{"collection":"agents","doc":{"_id":"a2"}}']);
    await sink.close(true);
    const all = lines(readFileSync(p, 'utf8'));
    expect(all.slice(0, -1)).toEqual([
      head,
      { collection: 'agents' },
      { collection: 'agents', doc: { _id: 'a1', v: 1 } },
      { collection: 'users' },
      { collection: 'users', doc: { _id: 'u1' } },
      { collection: 'agents', deleted: 'a1' },
      { collection: 'agents', doc: { _id: 'a2' } },
    ]);
    expect(all.at(-1)).toEqual({ metadata: { provider: 'memory', exported_at: expect.any(String), changes: true } });
    expect(statSync(p).mode & 0o777).toBe(0o600);
    expect(sink.resumable).toBe(true);
  });

  test('a run that fails keeps the log as far as it went (every line is a change that happened), without the closing metadata', async () => {
    const p = path('failed.ndjson');
    const sink = await logSink(p);
    await change(sink, 'agents', { _id: 'a1' });
    await sink.close(false);
    expect(lines(readFileSync(p, 'utf8'))).toEqual([head, { collection: 'agents' }, { collection: 'agents', doc: { _id: 'a1' } }]);
  });

  test('a new run starts the log over, mode 0600 even where an older file had another', async () => {
    const p = path('again.ndjson');
    writeFileSync(p, '{"collection":"old","doc":{"_id":"x"}}\n', { mode: 0o644 });
    const sink = await logSink(p);
    await change(sink, 'agents', { _id: 'a1' });
    await sink.close(true);
    expect(lines(readFileSync(p, 'utf8')).slice(0, 3)).toEqual([head, { collection: 'agents' }, { collection: 'agents', doc: { _id: 'a1' } }]);
    expect(statSync(p).mode & 0o777).toBe(0o600);
  });

  test('a resumed run appends, after cutting away a last line the killed run left unfinished, and says so', async () => {
    const p = path('killed.ndjson');
    const first = await logSink(p);
    await change(first, 'agents', { _id: 'a1' });
    // SIGKILL mid-write: half a line, never acknowledged.
    appendFileSync(p, '{"collection":"agents","doc":{"_id":"a2","te');
    const warnings: string[] = [];
    const second = await logSink(p, true, warnings);
    expect(warnings).toEqual([`${p}: cut away the last 44 bytes, a line the stopped run had not finished; the resumed run writes it again`]);
    await change(second, 'agents', { _id: 'a2', text: 'x' }, { deleted: 'a1' });
    await second.close(true);
    expect(lines(readFileSync(p, 'utf8')).slice(0, -1)).toEqual([
      head,
      { collection: 'agents' },
      { collection: 'agents', doc: { _id: 'a1' } },
      // The resumed run says again what it is and announces its collections again: harmless.
      head,
      { collection: 'agents' },
      { collection: 'agents', doc: { _id: 'a2', text: 'x' } },
      { collection: 'agents', deleted: 'a1' },
    ]);
    await first.close(false);
  });

  test('a resumed run after a clean stop appends after the metadata line; a log moved aside starts a new one (rotation)', async () => {
    const p = path('rotated.ndjson');
    const first = await logSink(p);
    await change(first, 'agents', { _id: 'a1' });
    await first.close(true);
    const second = await logSink(p, true);
    await change(second, 'agents', { _id: 'a2' });
    await second.close(true);
    const text = lines(readFileSync(p, 'utf8'));
    expect(text.filter((l) => l.doc).map((l) => (l.doc as Doc)._id)).toEqual(['a1', 'a2']);
    expect(text.filter((l) => l.metadata)).toHaveLength(4);

    renameSync(p, `${p}.1`);
    const third = await logSink(p, true);
    await change(third, 'agents', { deleted: 'a2' });
    await third.close(true);
    expect(lines(readFileSync(p, 'utf8')).slice(0, -1)).toEqual([head, { collection: 'agents' }, { collection: 'agents', deleted: 'a2' }]);
  });

  test('gzipped, the log is whole gzip after every write; a resume appends to a whole one and refuses a cut-off one, saying what to do', async () => {
    const p = path('log.ndjson.gz');
    const sink = await logSink(p);
    await change(sink, 'agents', { _id: 'a1' });
    expect(gunzipSync(readFileSync(p)).toString()).toBe('{"metadata":{"provider":"memory","changes":true}}\n{"collection":"agents"}\n{"collection":"agents","doc":{"_id":"a1"}}\n');
    await change(sink, 'agents', { deleted: 'a1' });
    await sink.close(true);
    const resumed = await logSink(p, true);
    await change(resumed, 'agents', { _id: 'a3' });
    await resumed.close(true);
    expect(shape(await readChunks(p))).toEqual(['+agents a1', '-agents a1', '+agents a3']);

    appendFileSync(p, gzipSync('{"collection":"agents","doc":{"_id":"a4"}}\n').subarray(0, 20));
    const error = await failure(() => logSink(p, true));
    expect(error).toMatchObject({ kind: 'usage', code: 'not-resumable' });
    expect(error.message).toMatch(new RegExp(`^${p}: the gzipped change log was cut off \\(.+\\) and cannot be appended to; move it aside \\(zcat recovers its lines\\) and resume again: a new log starts at the checkpoint$`));
  });

  test('a JSON export target is refused with --follow, pointing at the NDJSON to use', () => {
    const refused = (p: string) => {
      try {
        fileSink(uri(p), testAdapterOptions({ follow: true }));
      } catch (error) {
        expect(error).toMatchObject({ kind: 'usage', code: 'bad-option' });
        return (error as Error).message;
      }
      throw new Error(`${p} was not refused`);
    };
    expect(refused('/b/backup.json')).toBe('file:/b/backup.json: --follow writes a change log, one line a change, which a JSON export cannot hold: write to a .ndjson target (file:/b/backup.ndjson)');
    expect(refused('b.json.gz')).toMatch(/\(file:b\.ndjson\.gz\)$/);
    expect(refused('-')).toMatch(/: write to file:-\.ndjson$/);
    expect(refused('backup')).toMatch(/: add --format ndjson$/);
    expect(() => createSink({ stream: new PassThrough(), name: 'upload', owns: true }, { follow: true }, 'upload')).toThrow(/give fileSink format: 'ndjson'$/);
    expect(fileSink(uri('-.ndjson'), testAdapterOptions({ follow: true })).resumable).toBe(false);
  });

  test('without --follow an NDJSON export still goes through a temp file, takes collections in any order, and has the remove that writes tombstones', async () => {
    const p = path('plain.ndjson');
    const sink = fileSink(uri(p), testAdapterOptions());
    await sink.begin!({ sourceProvider: 'memory' });
    await change(sink, 'a', { _id: '1' });
    await change(sink, 'b', { _id: '2' });
    await change(sink, 'a', { _id: '3' }, { deleted: '1' });
    expect(existsSync(p)).toBe(false);
    await sink.close(true);
    expect(shape(await readChunks(p))).toEqual(['+a 1', '+b 2', '+a 3', '-a 1']);
    // Its tombstones make it a change log: its metadata says so, so --shard splits it by _id.
    expect(lines(readFileSync(p, 'utf8')).at(-1)).toEqual({ metadata: { provider: 'memory', exported_at: expect.any(String), collections: ['a', 'b'], changes: true } });
    expect((await fileSource(uri(p), testAdapterOptions())).splits).toBeUndefined();
    expect(fileSink(uri(path('x.json')), testAdapterOptions()).remove).toBeUndefined();
  });
});

describe('reading a change log back', () => {
  test('tombstones come as chunks of deletes between the documents, in the order of the lines, and name their lines', async () => {
    const p = path('read.ndjson');
    writeFileSync(p, log);
    const chunks = await readChunks(p);
    expect(shape(chunks)).toEqual(['+agents a1,a2', '-agents a1,a2', '+agents a1', '+users u1', '-users u1']);
    const deletes = chunks.find((c) => c.deletes)!;
    expect(deletes.docs).toEqual([]);
    expect([deletes.where!(0), deletes.where!(1)]).toEqual([`${p} line 5`, `${p} line 6`]);
    expect(chunks.filter((c) => c.docs.length === 0 && !c.deletes).map((c) => c.collection)).toEqual(['agents', 'users']);
    expect(String((chunks.find((c) => c.collection === 'users' && c.docs.length)!.docs[0] as Doc).big)).toBe('12345678901234567890');
  });

  test('the batch size splits runs of tombstones as it splits documents, and --collections leaves out the others', async () => {
    const p = path('batches.ndjson');
    writeFileSync(p, log);
    expect(shape(await readChunks(p, { batchSize: 1 }))).toEqual(['+agents a1', '+agents a2', '-agents a1', '-agents a2', '+agents a1', '+users u1', '-users u1']);
    expect(shape(await readChunks(p, { collections: ['users'] }))).toEqual(['+users u1', '-users u1']);
  });

  test('gzipped and on stdin it reads the same; resuming from any chunk position gives exactly the rest', async () => {
    const plain = path('read.ndjson');
    writeFileSync(plain, log);
    const p = path('read.ndjson.gz');
    writeFileSync(p, gzipSync(log));
    const whole = await readChunks(p, { batchSize: 1 });
    expect(shape(whole)).toEqual(shape(await readChunks(plain, { batchSize: 1 })));
    expect(shape(await readChunks(Readable.from([Buffer.from(log)]), { batchSize: 1 }))).toEqual(shape(whole));
    expect(shape(await readChunks(Readable.from([gzipSync(log)]), { batchSize: 1 }))).toEqual(shape(whole));
    for (let i = 0; i < whole.length; i++) {
      const rest = await readChunks(p, { batchSize: 1, resumeFrom: JSON.parse(JSON.stringify(whole[i]!.position)) });
      expect(shape(rest), `after chunk ${i}`).toEqual(shape(whole.slice(i + 1)));
    }
  });

  test.each([
    ['{"collection":"agents","deleted":5}', 'line 2: "deleted" must be the removed document\'s _id, a non-empty string, not a number at byte 24 in collection "agents"'],
    ['{"collection":"agents","deleted":""}', 'line 2: "deleted" must be the removed document\'s _id, a non-empty string, not an empty string at byte 24 in collection "agents"'],
    ['{"collection":"agents","deleted":{"_id":"a"}}', 'line 2: "deleted" must be the removed document\'s _id, a non-empty string, not an object at byte 24 in collection "agents"'],
    ['{"collection":"agents","deleted":"a","doc":{"_id":"a"}}', 'line 2: both "doc" and "deleted": a line is a document or a tombstone at byte 24 in collection "agents"'],
  ])('a bad tombstone stops the run with one line naming its line and byte: %s', async (bad, message) => {
    const p = path('bad.ndjson');
    writeFileSync(p, `{"collection":"agents"}\n${bad}\n{"collection":"agents","doc":{"_id":"b"}}\n`);
    const error = await failure(() => readChunks(p));
    expect(error).toMatchObject({ kind: 'fatal', code: 'malformed-input', message: `${p}: ${message}` });
  });

  test('a tombstone whose bytes are not UTF-8 stops the run (a deletion is applied, never dead-lettered)', async () => {
    const p = path('latin1.ndjson');
    writeFileSync(p, Buffer.concat([Buffer.from('{"collection":"agents"}\n{"collection":"agents","deleted":"caf'), Buffer.from([0xe9]), Buffer.from('"}\n')]));
    const error = await failure(() => readChunks(p));
    expect(error).toMatchObject({ kind: 'fatal', code: 'malformed-input', message: `${p}: line 2: tombstone not valid UTF-8 at byte 61 in collection "agents"` });
  });
});

describe('verify with a change log on either side', () => {
  /** memory:NAME holding these documents. */
  const seeded = (data: Record<string, Doc[]>) => {
    const name = `log-verify-${count++}`;
    const store = memoryStore(name);
    for (const [collection, docs] of Object.entries(data)) store.set(collection, new Map(docs.map((d) => [d._id as string, d])));
    return `memory:${name}`;
  };
  // The state `log` ends in: a1 written twice (v2 last), a2 deleted, u1 written then deleted.
  const final = { agents: [{ _id: 'a1', v: 2 }], users: [] };

  test('the log counts as the state it ends in: later lines win, tombstones remove', async () => {
    const p = path('verify.ndjson');
    writeFileSync(p, log);
    const asTarget = await verify({ from: seeded(final), to: `file:${p}`, warn: () => {} });
    expect(asTarget.identical).toBe(true);
    expect(asTarget.collections).toEqual({
      agents: { source: 1, target: 1, matched: 1, missing: 0, changed: 0, extra: 0 },
      users: { source: 0, target: 0, matched: 0, missing: 0, changed: 0, extra: 0 },
    });
    const asSource = await verify({ from: `file:${p}`, to: seeded(final), warn: () => {} });
    expect(asSource.identical).toBe(true);
  });

  test('against the state before the changes, the log differs by exactly them', async () => {
    const p = path('verify-before.ndjson');
    writeFileSync(p, log);
    const differences: string[] = [];
    const before = seeded({ agents: [{ _id: 'a1', v: 1 }, { _id: 'a2', v: 1 }], users: [{ _id: 'u1', big: 1 }] });
    const check = await verify({ from: before, to: `file:${p}`, warn: () => {}, onDifference: (d) => void differences.push(`${d.kind} ${d.collection} ${d._id}`) });
    expect(check.identical).toBe(false);
    expect(differences.sort()).toEqual(['changed agents a1', 'missing agents a2', 'missing users u1']);
    expect(check.collections.agents).toEqual({ source: 2, target: 1, matched: 0, missing: 1, changed: 1, extra: 0 });
  });
});

describe('a change log and --shard', () => {
  test('a log --follow wrote has no split by lines (the shards split it by _id); a plain NDJSON export has', async () => {
    const p = path('marked.ndjson');
    const sink = await logSink(p);
    await change(sink, 'agents', { _id: 'a1' });
    await sink.close(true);
    expect((await fileSource(uri(p), testAdapterOptions())).splits).toBeUndefined();
    const plain = path('plain-export.ndjson');
    writeFileSync(plain, '{"collection":"agents","doc":{"_id":"a1"}}\n');
    expect((await fileSource(uri(plain), testAdapterOptions())).splits).toBe('byte ranges split at line starts');
  });


  test('a file with tombstones but without that first line, split by lines, stops at its first tombstone', async () => {
    const p = path('unmarked.ndjson');
    writeFileSync(p, log);
    const source = await fileSource(uri(p), testAdapterOptions());
    expect(source.splits).toBe('byte ranges split at line starts');
    const error = await failure(async () => {
      for await (const _chunk of source.read({ signal, shard: { index: 0, count: 1 } })) void _chunk;
    });
    expect(error).toMatchObject({ kind: 'fatal', code: 'malformed-input' });
    expect(error.message).toBe(`${p}: line 5: a tombstone in a share of a file split by lines: a change log is applied in order, so its first line must be {"metadata":{"changes":true}} (as --follow writes it) for --shard to split it by _id at byte ${log.indexOf('"deleted"') - '{"collection":"agents",'.length} in collection "agents"`);
  });
});
