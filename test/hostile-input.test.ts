/**
 * Files that are not what they claim and transforms that leave holes: invalid UTF-8, documents
 * nested too deep or too large, fields left undefined. Each is a dead letter with its reason (or,
 * where the file's structure is broken, exit 3 saying where), never a changed document, never a
 * stack overflow; undefined is "absent" in every store and in verify.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, inject, test } from 'vitest';
import { basicAuthorization } from './servers/couchdb.js';
import { maxDepth, maxDocumentBytes, Unreadable } from '../src/formats/limits.js';
import { firstInvalidByte } from '../src/formats/utf8.js';
import { migrate } from '../src/pipeline.js';
import { openSource } from '../src/registry.js';
import fileSource from '../src/sources/file.js';
import { memoryStore } from '../src/stores/memory/store.js';
import type { Doc, SourceChunk } from '../src/types.js';
import { verify } from '../src/verify/verify.js';
import { testAdapterOptions } from './helpers.js';

const bin = new URL('../bin/gofannon-etl.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'hostile-'));
let files = 0;

function run(args: string[], input?: Buffer) {
  const result = spawnSync(process.execPath, [bin, ...args], { input, encoding: 'utf8', env: { ...process.env, CI: 'true' }, cwd: dir });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function file(name: string, bytes: Buffer | string): string {
  const path = join(dir, `${files++}-${name}`);
  writeFileSync(path, bytes);
  return path;
}

const deadLetters = (path: string) =>
  readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { collection: string; _id?: string; reason: string; where?: string; bytes?: string; doc?: unknown });

/** Everything a file source yields, documents and Unreadables alike, by collection. */
async function readAll(path: string, options: { highWaterMark?: number } = {}): Promise<Record<string, unknown[]>> {
  const source = await fileSource({ scheme: 'file', rest: path, raw: `file:${path}` }, { ...testAdapterOptions(), ...options });
  const out: Record<string, unknown[]> = {};
  for await (const chunk of source.read({ signal: new AbortController().signal }) as AsyncIterable<SourceChunk>) (out[chunk.collection] ??= []).push(...chunk.docs);
  return out;
}

const latin1Cafe = Buffer.from('caf\xe9', 'latin1');
const nest = (depth: number, inner = '') => '['.repeat(depth) + inner + ']'.repeat(depth);

describe('invalid UTF-8', () => {
  const json = Buffer.concat([Buffer.from('{"data":{"a":[{"_id":"1","n":"ok é"},{"_id":"2","n":"'), latin1Cafe, Buffer.from('"},{"_id":"3"}]}}')]);
  const badOffset = json.indexOf(0xe9);

  test('finds the first invalid byte exactly (overlong, surrogate, cut, stray continuation)', () => {
    expect(firstInvalidByte(Buffer.from('ok é 🙂'))).toBe(-1);
    expect(firstInvalidByte(Buffer.from([0x61, 0xc0, 0xaf]))).toBe(1);
    expect(firstInvalidByte(Buffer.from([0x61, 0xed, 0xa0, 0x80]))).toBe(1);
    expect(firstInvalidByte(Buffer.from([0x61, 0x62, 0xe2, 0x82]))).toBe(2);
    expect(firstInvalidByte(Buffer.from([0x80]))).toBe(0);
    expect(firstInvalidByte(Buffer.from([0xf4, 0x90, 0x80, 0x80]))).toBe(0);
  });

  test('a .json document holding Latin-1 is an Unreadable with the byte offset, in every buffer split', async () => {
    const path = file('latin.json', json);
    for (const highWaterMark of [1, 2, 3, 7, 64, 1 << 20]) {
      const read = await readAll(path, { highWaterMark });
      expect(read.a!.map((d) => (d instanceof Unreadable ? `${d._id}: ${d.reason}` : (d as Doc)._id))).toEqual(['1', `2: not valid UTF-8 at byte ${badOffset}`, '3']);
      expect((read.a![0] as Doc).n).toBe('ok é');
    }
  });

  test('through the CLI: exit 1, the others copied unchanged, the dead letter has the offset and the original bytes', () => {
    const path = file('latin.json', json);
    const out = join(dir, 'latin-out.json');
    const dl = join(dir, 'latin-dl.ndjson');
    const result = run(['--from', `file:${path}`, '--to', `file:${out}`, '--dead-letter', dl]);
    expect(result.code).toBe(1);
    const written = JSON.parse(readFileSync(out, 'utf8')) as { data: { a: Doc[] } };
    expect(written.data.a).toEqual([{ _id: '1', n: 'ok é' }, { _id: '3' }]);
    expect(readFileSync(out, 'utf8')).not.toContain('\ufffd');
    const [entry] = deadLetters(dl);
    expect(entry).toMatchObject({ collection: 'a', _id: '2', reason: `not valid UTF-8 at byte ${badOffset}`, where: expect.stringMatching(/byte \d+$/) });
    expect(Buffer.from(entry!.bytes!, 'base64').includes(latin1Cafe)).toBe(true);
  });

  test('.ndjson, gzipped, and from stdin: the line is dead-lettered', () => {
    const ndjson = Buffer.concat([Buffer.from('{"collection":"a","doc":{"_id":"1"}}\n{"collection":"a","doc":{"_id":"2","n":"'), latin1Cafe, Buffer.from('"}}\n{"collection":"a","doc":{"_id":"3"}}\n')]);
    const offset = ndjson.indexOf(0xe9);
    for (const [args, input] of [
      [['--from', `file:${file('latin.ndjson', ndjson)}`], undefined],
      [['--from', `file:${file('latin.ndjson.gz', gzipSync(ndjson))}`], undefined],
      [['--from', 'file:-'], gzipSync(ndjson)],
    ] as const) {
      const out = join(dir, `nd-out-${files++}.ndjson`);
      const result = run([...args, '--to', `file:${out}`], input);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(new RegExp(`failed: a _id 2 \\((\\S+ )?line 2\\): not valid UTF-8 at byte ${offset}`));
      expect(readFileSync(out, 'utf8')).toContain('"_id":"3"');
      expect(readFileSync(out, 'utf8')).not.toContain('"_id":"2"');
    }
  });

  test('in the file structure (a collection name, metadata, a line whose collection cannot be told): exit 3 saying where', () => {
    const key = Buffer.concat([Buffer.from('{"data":{"'), latin1Cafe, Buffer.from('":[]}}')]);
    const keyRun = run(['--from', `file:${file('key.json', key)}`, '--to', 'null']);
    expect(keyRun.code).toBe(3);
    expect(keyRun.stderr.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`property name is not valid UTF-8 at byte ${key.indexOf(0xe9)} \\(line 1\\)`))]);
    const metadata = Buffer.concat([Buffer.from('{"metadata":{"provider":"'), latin1Cafe, Buffer.from('"},"data":{}}')]);
    const metadataRun = run(['--from', `file:${file('meta.json', metadata)}`, '--to', 'null']);
    expect(metadataRun.code).toBe(3);
    expect(metadataRun.stderr).toContain(`"metadata" is not valid UTF-8 at byte ${metadata.indexOf(0xe9)}`);
    const line = Buffer.concat([Buffer.from('{"collection":"'), latin1Cafe, Buffer.from('","doc":{"_id":"1"}}\n')]);
    const lineRun = run(['--from', `file:${file('coll.ndjson', line)}`, '--to', 'null']);
    expect(lineRun.code).toBe(3);
    expect(lineRun.stderr.trim().split('\n')).toEqual([expect.stringContaining(`line 1: not valid UTF-8 at byte ${line.indexOf(0xe9)}`)]);
  });
});

describe('depth and size limits', () => {
  test('a document 200,000 levels deep is dead-lettered and the run goes on (json, ndjson, gzip, stdin)', () => {
    const deep = nest(200_000);
    const json = `{"data":{"a":[{"_id":"1"},${deep},{"_id":"2","x":${nest(maxDepth)}},{"_id":"3","x":${nest(maxDepth - 1)}}]}}`;
    const ndjson = [`{"_id":"1"}`, deep, `{"_id":"2","x":${nest(maxDepth)}}`, `{"_id":"3","x":${nest(maxDepth - 1)}}`].map((d) => `{"collection":"a","doc":${d}}\n`).join('');
    for (const [args, input] of [
      [['--from', `file:${file('deep.json', json)}`], undefined],
      [['--from', `file:${file('deep.json.gz', gzipSync(json))}`], undefined],
      [['--from', `file:${file('deep.ndjson', ndjson)}`], undefined],
      [['--from', 'file:-'], Buffer.from(ndjson)],
    ] as const) {
      const out = join(dir, `deep-out-${files++}.json`);
      const dl = join(dir, `deep-dl-${files++}.ndjson`);
      const result = run([...args, '--to', `file:${out}`, '--dead-letter', dl], input);
      expect(result.stderr).not.toMatch(/stack|RangeError/);
      expect(result.code).toBe(1);
      const written = JSON.parse(readFileSync(out, 'utf8')) as { data: { a: Doc[] } };
      // Document 3 is exactly at the limit (maxDepth levels, counting the document itself) and is kept.
      expect(written.data.a.map((d) => d._id)).toEqual(['1', '3']);
      expect(deadLetters(dl).map((e) => [e._id, e.reason])).toEqual([
        [undefined, `nested deeper than ${maxDepth} levels`],
        ['2', `nested deeper than ${maxDepth} levels`],
      ]);
    }
  });

  test('the exact parser (a document with an unsafe number) stops at the limit too', async () => {
    const path = file('deep-exact.ndjson', `{"collection":"a","doc":{"_id":"1","x":${nest(5000, '1.00000000000000000001')}}}\n{"collection":"a","doc":{"_id":"2","x":1.00000000000000000001}}\n`);
    const read = await readAll(path);
    expect(read.a![0]).toBeInstanceOf(Unreadable);
    expect((read.a![0] as Unreadable)._id).toBe('1');
    expect(String((read.a![1] as Doc).x)).toBe('1.00000000000000000001');
  });

  test(`a document larger than ${maxDocumentBytes / 1024 / 1024} MiB is dead-lettered without keeping it; memory stays flat`, async () => {
    const big = 'x'.repeat(maxDocumentBytes);
    const json = file('big.json', `{"data":{"a":[{"_id":"1"},{"_id":"2","big":"${big}"},{"_id":"3"}]}}`);
    const ndjson = file('big.ndjson', `{"collection":"a","doc":{"_id":"1"}}\n{"collection":"a","doc":{"_id":"2","big":"${big}"}}\n{"collection":"a","doc":{"_id":"3"}}\n`);
    for (const path of [json, ndjson]) {
      const read = await readAll(path, { highWaterMark: 1 << 16 });
      expect(read.a!.map((d) => (d instanceof Unreadable ? d.reason : (d as Doc)._id))).toEqual(['1', `larger than ${maxDocumentBytes / 1024 / 1024} MiB`, '3']);
      expect((read.a![1] as Unreadable).bytes).toBeUndefined();
    }
    const result = run(['--from', `file:${ndjson}`, '--to', 'null']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('failed: a (no _id) (');
    expect(result.stderr).toContain(`line 2): larger than ${maxDocumentBytes / 1024 / 1024} MiB`);
  });

  test('a deep document from a store (the library, verify reading a target) is refused, not a crash', async () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const name = `deep-${Date.now()}`;
    memoryStore(name).set('a', new Map<string, Doc>([
      ['1', { _id: '1' }],
      ['2', { _id: '2', x: deep as Doc['x'] }],
    ]));
    const report = await migrate({ from: `memory:${name}`, to: `memory:${name}-out`, warn: () => {} }).catch((e: { report?: unknown }) => e.report ?? e);
    expect(report).toMatchObject({ total: { read: 2, written: 1, failed: 1 } });
    const compared = await verify({ from: `memory:${name}-out`, to: `memory:${name}`, warn: () => {} });
    expect(compared.collections.a).toMatchObject({ matched: 1, missing: 0 });
    // The target's deep document is not compared, but neither is it passed over: it is a difference.
    expect(compared.collections.a).toMatchObject({ target: 2, extra: 1 });
    expect(compared.identical).toBe(false);
  });

  test('CouchDB (it bounds no nesting) holding a document 600 levels deep: dead-lettered when read; as verify\'s target, a difference', async () => {
    const couchdb = inject('couchdbAuthUrl');
    const collection = `deep${Date.now().toString(36)}`;
    const put = async (path: string, body?: string) =>
      expect((await fetch(`${inject('couchdbUrl')}/${path}`, { method: 'PUT', body, headers: { 'content-type': 'application/json', authorization: basicAuthorization() } })).ok).toBe(true);
    await put(collection);
    await put(`${collection}/deep`, `{"v":${nest(600, '1')}}`);
    await put(`${collection}/fine`, '{"v":1}');
    const store = couchdb.replace(/^http:/, 'couchdb:');
    const out = join(dir, `${collection}.json`);
    const dl = join(dir, `${collection}-dl.ndjson`);
    const copy = run(['--from', store, '--collections', collection, '--to', `file:${out}`, '--dead-letter', dl, '--quiet']);
    expect(copy.stderr).toBe('');
    expect(copy.code).toBe(1);
    expect((JSON.parse(readFileSync(out, 'utf8')) as { data: Record<string, unknown> }).data).toEqual({ [collection]: [{ _id: 'fine', v: 1 }] });
    expect(deadLetters(dl)).toMatchObject([{ collection, _id: 'deep', reason: `nested deeper than ${maxDepth} levels` }]);
    const check = run(['verify', '--from', `file:${out}`, '--to', store, '--collections', collection]);
    expect(check.stderr).toBe('');
    expect(check.stdout).toMatch(new RegExp(`extra\\s+${collection} deep`));
    expect(check.code).toBe(1);
  });
});

describe('undefined from a transform is absent', () => {
  const holes = (doc: Doc) => {
    doc.gone = undefined as unknown as Doc['gone'];
    doc.nested = { gone: undefined as unknown as Doc['gone'], kept: 1 };
    doc.list = [undefined as unknown as Doc['gone'], 2];
    return doc;
  };
  const expected = (id: string) => ({ _id: id, nested: { kept: 1 }, list: [null, 2] });

  const couch = inject('couchdbAuthUrl').replace(/^http:/, 'couchdb:');
  const dynamo = inject('dynamodbUrl').replace(/^http:/, 'dynamodb:');
  const env = { ...process.env, FIRESTORE_EMULATOR_HOST: inject('firestoreHost'), FIRESTORE_PROJECT_ID: 'hostile-undefined', AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', AWS_REGION: 'us-east-1' };

  test.each([
    ['memory', () => `memory:undef-out-${Date.now()}`],
    ['file', () => `file:${join(dir, `undef-${files++}.json`)}`],
    ['couchdb', () => couch],
    ['dynamodb', () => dynamo],
    ['firestore', () => 'firestore'],
  ])('the same in %s, and verify agrees', async (_store, target) => {
    const to = target();
    const collection = `undef_${Date.now().toString(36)}_${files++}`;
    const name = `undef-${collection}`;
    memoryStore(name).set(collection, new Map<string, Doc>([['1', { _id: '1', gone: 1 }], ['2', { _id: '2' }]]));
    const report = await migrate({ from: `memory:${name}`, to, transforms: [holes], env, warn: () => {} });
    expect(report.total).toMatchObject({ read: 2, written: 2, failed: 0 });
    const source = await openSource(to, { ...testAdapterOptions({ env }) });
    const back: Doc[] = [];
    for await (const chunk of source.read({ collections: new Set([collection]), signal: new AbortController().signal })) back.push(...(chunk.docs as Doc[]));
    await source.close();
    const plain = back.map((d) => Object.fromEntries(Object.entries(d).filter(([k]) => k === '_id' || !k.startsWith('_'))));
    expect(plain.sort((a, b) => String(a._id).localeCompare(String(b._id)))).toEqual([expected('1'), expected('2')]);
    const compared = await verify({ from: `memory:${name}`, to, transforms: [holes], collections: [collection], env, warn: () => {} });
    expect(compared.collections[collection]).toMatchObject({ matched: 2, missing: 0, changed: 0 });
  });

  test('through the CLI: a transform module leaving holes, file to file, then verify: exit 0', () => {
    const path = file('holes.json', '{"data":{"a":[{"_id":"1","x":1},{"_id":"2"}]}}');
    const transform = file('holes.mjs', 'export default (doc) => { doc.x = undefined; doc.y = { z: undefined }; return doc; };');
    const out = join(dir, 'holes-out.json');
    expect(run(['--from', `file:${path}`, '--to', `file:${out}`, '--transform', transform]).code).toBe(0);
    expect((JSON.parse(readFileSync(out, 'utf8')) as { data: { a: Doc[] } }).data.a).toEqual([{ _id: '1', y: {} }, { _id: '2', y: {} }]);
    const checked = run(['verify', '--from', `file:${path}`, '--to', `file:${out}`, '--transform', transform]);
    expect(checked.stderr).not.toMatch(/Cannot convert/);
    expect(checked.code).toBe(0);
  });
});

