/**
 * Other tools' backups through the file source, read as they are: recognised by content, streamed,
 * numbers exact, what cannot be a document dead-lettered with its reason, broken files stopped
 * with where they broke. (The real couchbackup CLI's files: couchbackup.test.ts; into the real
 * stores: foreign-stores.test.ts.)
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { EtlError } from '../src/errors.js';
import { ExactNumber } from '../src/formats/exact-number.js';
import { sniffForeign } from '../src/formats/input-format.js';
import { parseJson } from '../src/formats/parse.js';
import { stringifyExact } from '../src/formats/serialize.js';
import { memoryStore } from '../src/stores/memory/store.js';
import { migrate } from '../src/pipeline.js';
import fileSource, { createSource } from '../src/sources/file.js';
import type { AdapterOptions, Doc, Position, Sink, SourceChunk } from '../src/types.js';
import { dynamoItems, firestoreExport, firestoreGeopoint, firestoreTimestamp, writeDynamoExport } from './foreign-fixtures.js';
import { failure, testAdapterOptions } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'foreign-'));
let count = 0;
/** A fresh folder for each test's files, so names (and the collections named after them) stay as written. */
const folder = () => {
  const path = join(dir, String(count++));
  mkdirSync(path);
  return path;
};
const signal = new AbortController().signal;
const quiet = { warn: () => {} };
const cli = new URL('../bin/gofannon-etl.js', import.meta.url).pathname;

async function read(path: string, options: Partial<AdapterOptions> & { stdin?: PassThrough; resumeFrom?: Position } = {}): Promise<{ chunks: SourceChunk[]; warnings: string[] }> {
  const adapter = testAdapterOptions(options);
  // `-` reads the given stream as `file:-` reads stdin.
  const source =
    path === '-' && options.stdin
      ? createSource({ stream: options.stdin, name: 'stdin', owns: false }, adapter, 'file:-')
      : await fileSource({ scheme: 'file', rest: path, raw: `file:${path}` }, adapter);
  const chunks: SourceChunk[] = [];
  for await (const chunk of source.read({ signal, resumeFrom: options.resumeFrom })) chunks.push(chunk);
  return { chunks, warnings: adapter.warnings };
}

const docsOf = (chunks: SourceChunk[]) => {
  const out: Record<string, unknown[]> = {};
  for (const chunk of chunks) (out[chunk.collection] ??= []).push(...chunk.docs);
  return out;
};

/** A couchbackup file as couchbackup writes it: the header line (unless `header` is false), then a JSON array of documents a line. */
const couchbackupText = (batches: Doc[][], header = true) =>
  (header ? '{"name":"@cloudant/couchbackup","version":"2.11.12","mode":"full","attachments":false}\n' : '') + batches.map((b) => stringifyExact(b) + '\n').join('');

const rev = (doc: Doc, n = 1): Doc => ({ ...doc, _rev: `${n}-abc${n}`, _revisions: { start: n, ids: Array.from({ length: n }, (_, i) => `abc${n - i}`) } });

describe('recognised by content', () => {
  test.each([
    ['a couchbackup header line', '{"name":"@cloudant/couchbackup","version":"2.11.12","mode":"shallow"}\n[{"_id":"a","_rev":"1-x"}]\n', 'couchbackup'],
    ['couchbackup before its header (arrays of CouchDB documents, one a line)', '[{"_id":"a","_rev":"1-x","n":1}]\n[{"_id":"b","_rev":"2-y"}]\n', 'couchbackup'],
    ['a pretty top-level array', '[\n  {"_id": "a"}\n]\n', 'array'],
    ['a compact array of plain documents', '[{"_id":"a"},{"_id":"b"}]', 'array'],
    ['a DynamoDB manifest-summary.json', '{"version":"2020-06-30","exportArn":"arn:aws:dynamodb:us-east-1:1:table/t/export/x","manifestFilesS3Key":"AWSDynamoDB/x/manifest-files.json"}', 'dynamodb-export'],
    ['a data file of a DynamoDB export (read as its folder)', '{"Item":{"_id":{"S":"a"},"n":{"N":"1"}}}\n', 'dynamodb-export'],
    ['a Firestore database export', '{\n  "__collections__": {\n    "users": {}\n  }\n}', 'firestore-export'],
    ['a Firestore collection export', '{"docA":{"name":"x","__collections__":{}}}', 'firestore-export'],
    ['our export', '{"metadata":{"provider":"couchdb"},"data":{"users":[{"_id":"a","__collections__":1}]}}', undefined],
    ['our NDJSON', '{"collection":"users","doc":{"_id":"a"}}\n', undefined],
  ])('%s', (_what, text, format) => {
    expect(sniffForeign(Buffer.from(text))).toBe(format);
  });

  test('content wins over the name: a couchbackup file named .json, gzipped, is read as couchbackup', async () => {
    const path = join(folder(), 'agents.json.gz');
    writeFileSync(path, gzipSync(couchbackupText([[rev({ _id: 'a', n: 1 })], [rev({ _id: 'b' }, 2)]])));
    const { chunks } = await read(path);
    expect(docsOf(chunks)).toEqual({ agents: [rev({ _id: 'a', n: 1 }), rev({ _id: 'b' }, 2)] });
  });

  test('a file of one collection is named after the file, or --collection-name', async () => {
    const path = join(folder(), 'agents-2026-01-11.txt');
    writeFileSync(path, couchbackupText([[rev({ _id: 'a' })]]));
    const source = await fileSource({ scheme: 'file', rest: path, raw: '' }, testAdapterOptions());
    expect(await source.listCollections()).toEqual(['agents-2026-01-11']);
    expect(source.provider).toBe('couchdb');
    expect(Object.keys(docsOf((await read(path, { collectionName: 'agents' })).chunks))).toEqual(['agents']);
  });

  test('stdin is sniffed too; with no file name to go by, a one-collection backup needs --collection-name', async () => {
    const text = couchbackupText([[rev({ _id: 'a' })]]);
    const stdin = () => {
      const stream = new PassThrough();
      stream.end(text);
      return stream;
    };
    expect(docsOf((await read('-', { stdin: stdin(), collectionName: 'agents' })).chunks)).toEqual({ agents: [rev({ _id: 'a' })] });
    const error = await failure(() => read('-', { stdin: stdin() }));
    expect(error.kind).toBe('usage');
    expect(error.message).toBe('stdin holds one collection and no file name to name it after: give --collection-name NAME');
  });

  test('--format forces a format; a value that is none is a usage error', async () => {
    const path = join(folder(), 'users.json');
    writeFileSync(path, '[{"_id":"a"}]');
    const forced = await failure(() => read(path, { format: 'ndjson' }));
    expect(forced.kind).toBe('fatal');
    const bad = await failure(() => read(path, { format: 'csv' as never }));
    expect(bad.kind).toBe('usage');
    expect(bad.message).toBe('--format must be one of json, ndjson, couchbackup, dynamodb-export, firestore-export, array, not "csv"');
  });

  test('--collection-name on our own export, which names its collections, is a usage error', async () => {
    const path = join(folder(), 'backup.json');
    writeFileSync(path, JSON.stringify({ metadata: {}, data: { users: [] } }));
    const error = await failure(() => read(path, { collectionName: 'x' }));
    expect(error.kind).toBe('usage');
    expect(error.message).toMatch(/--collection-name applies to a file of one collection/);
  });
});

describe('couchbackup files', () => {
  test('tombstones and design documents are skipped; attachments are counted; _rev and _revisions go with strip-couch-meta', async () => {
    const path = join(folder(), 'agents.txt');
    const kept = [rev({ _id: 'a', n: new ExactNumber('12345678901234567890') }, 3), rev({ _id: 'c', _attachments: { 'x.txt': { content_type: 'text/plain', data: 'eA==' } } })];
    writeFileSync(path, couchbackupText([[rev({ _id: '_design/idx', views: {} }), kept[0]!], [rev({ _id: 'b', _deleted: true }, 2), kept[1]!]]));
    const { chunks, warnings } = await read(path);
    expect(docsOf(chunks)).toEqual({ agents: kept });
    expect(warnings).toEqual([`${path}: 1 document had attachments; strip-couch-meta drops _attachments unless --keep-couch-meta`]);
    expect(docsOf((await read(path, { includeDesign: true })).chunks).agents).toHaveLength(3);

    const report = await migrate({ from: `file:${path}`, to: `memory:cb-${count}`, ...quiet });
    expect(report.collections.agents).toMatchObject({ read: 2, written: 2 });
    expect([...memoryStore(`cb-${count}`).get('agents')!.values()]).toEqual([{ _id: 'a', n: new ExactNumber('12345678901234567890') }, { _id: 'c' }]);
    await migrate({ from: `file:${path}`, to: `memory:cb-keep-${count}`, noDefaultTransforms: true, ...quiet });
    expect(memoryStore(`cb-keep-${count}`).get('agents')!.get('a')).toEqual(kept[0]);
  });

  test('a line that is not an array of documents, or not JSON, stops the read with its line', async () => {
    const base = folder();
    const good = couchbackupText([[rev({ _id: 'a' })]]);
    writeFileSync(join(base, 'a.txt'), good + '{"_id":"b"}\n');
    expect((await failure(() => read(join(base, 'a.txt')))).message).toBe(
      `${join(base, 'a.txt')}: line 3: expected a JSON array of documents (couchbackup writes one a line) at byte ${good.length} in collection "a"`,
    );
    writeFileSync(join(base, 'b.txt'), couchbackupText([[rev({ _id: 'a' })]]) + '[{"_id":"b",}]\n');
    const error = await failure(() => read(join(base, 'b.txt')));
    expect(error.kind).toBe('fatal');
    expect(error.message).toMatch(/b\.txt: line 3: .* at byte 1\d\d in collection "b"$/);
  });

  test('bytes that are not UTF-8 stop the read; they never become U+FFFD', async () => {
    const path = join(folder(), 'agents.txt');
    writeFileSync(path, Buffer.concat([Buffer.from(couchbackupText([[rev({ _id: 'a' })]])), Buffer.from('[{"_id":"caf'), Buffer.from([0xe9]), Buffer.from('"}]\n')]));
    const error = await failure(() => read(path));
    expect(error.message).toMatch(/agents\.txt: line 3: not valid UTF-8 at byte \d+/);
  });
});

describe('a top-level array of documents', () => {
  test('numbers keep every digit, pretty or compact', async () => {
    const base = folder();
    const text = '[{"_id":"x","big":123456789012345678901234567890,"d":0.10000000000000000001,"f":1.0,"e":1e400,"neg":-0.0},{"_id":"y","n":2}]';
    writeFileSync(join(base, 'users.json'), text);
    const report = await migrate({ from: `file:${join(base, 'users.json')}`, to: `file:${join(base, 'out.json')}`, ...quiet });
    expect(report.collections.users).toMatchObject({ read: 2, written: 2 });
    const out = readFileSync(join(base, 'out.json'), 'utf8');
    for (const digits of ['123456789012345678901234567890', '0.10000000000000000001', '"f": 1.0', '1e400', '-0.0']) expect(out).toContain(digits);
    writeFileSync(join(base, 'pretty.json'), JSON.stringify(JSON.parse('[{"_id":"a","n":[1,{"k":null}]}]'), null, 2));
    expect(docsOf((await read(join(base, 'pretty.json'))).chunks)).toEqual({ pretty: [{ _id: 'a', n: [1, { k: null }] }] });
  });

  test('an entry that is not a document is dead-lettered with its place; the run goes on', async () => {
    const base = folder();
    writeFileSync(join(base, 'agents.json'), '[{"_id":"a"}, 42, {"_id":"b"}, ["x"]]');
    const dead = join(base, 'dead.ndjson');
    const report = await migrate({ from: `file:${join(base, 'agents.json')}`, to: 'null', deadLetter: dead, ...quiet });
    expect(report.collections.agents).toMatchObject({ read: 4, written: 2, failed: 2 });
    const letters = readFileSync(dead, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(letters.map((l) => [l.where, l.reason])).toEqual([
      [`${join(base, 'agents.json')} [1]`, 'not a document: the value is a number'],
      [`${join(base, 'agents.json')} [3]`, 'not a document: the value is an array'],
    ]);
  });

  test('a broken or cut-short array stops the read and says where', async () => {
    const base = folder();
    const docs = Array.from({ length: 2000 }, (_, i) => ({ _id: `d${i}`, text: 'x'.repeat(20) }));
    const whole = JSON.stringify(docs, null, 1);
    writeFileSync(join(base, 'cut.json'), whole.slice(0, whole.length - 200));
    const cut = await failure(() => read(join(base, 'cut.json')));
    expect(cut.message).toMatch(/cut\.json: unexpected end of file \(expected a string value\) at byte \d+ \(line \d+\) in collection "cut"$/);
    const at = whole.indexOf('"d1500"');
    writeFileSync(join(base, 'bad.json'), `${whole.slice(0, at)}"d1500" "oops",${whole.slice(at + 7)}`);
    const bad = await failure(() => read(join(base, 'bad.json')));
    expect(bad.kind).toBe('fatal');
    // stream-json names no position: the error names the 16 KiB slice it was found in.
    const reported = Number(/starting at byte (\d+)/.exec(bad.message)?.[1]);
    expect(at - reported).toBeGreaterThanOrEqual(0);
    expect(at - reported).toBeLessThan(16 * 1024);
    expect(bad.message).toMatch(/bad\.json: malformed JSON \(expected ','\), in the 16 KiB starting at byte \d+ \(line \d+\) in collection "bad"$/);
  });
});

describe('node-firestore-import-export files', () => {
  test('a database export: tagged values as our Firestore source gives them, the document id as _id, empty collections carried', async () => {
    const path = join(folder(), 'firestore-export.json');
    const { file, docs } = firestoreExport();
    writeFileSync(path, JSON.stringify(file, null, 2));
    const { chunks } = await read(path);
    expect(docsOf(chunks)).toEqual(docs);
    const source = await fileSource({ scheme: 'file', rest: path, raw: '' }, testAdapterOptions());
    expect(source.provider).toBe('firestore');
  });

  test('subcollections are never flattened: each of their documents is dead-lettered with its path, the parent is written', async () => {
    const base = folder();
    const file = {
      __collections__: {
        users: {
          u1: {
            name: 'Ada',
            __collections__: { history: { h1: { at: firestoreTimestamp(0, 0), __collections__: { deeper: { d1: { x: 1, __collections__: {} } } } } } },
          },
        },
      },
    };
    writeFileSync(join(base, 'export.json'), JSON.stringify(file));
    const dead = join(base, 'dead.ndjson');
    const report = await migrate({ from: `file:${join(base, 'export.json')}`, to: `memory:fs-${count}`, deadLetter: dead, ...quiet });
    expect(report.collections.users).toMatchObject({ read: 3, written: 1, failed: 2 });
    expect([...memoryStore(`fs-${count}`).get('users')!.values()]).toEqual([{ _id: 'u1', name: 'Ada' }]);
    const letters = readFileSync(dead, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(letters).toEqual([
      { collection: 'users', _id: 'd1', reason: "in subcollection users/u1/history/h1/deeper: Gofannon's layout has no subcollections, so it is not imported", where: `${join(base, 'export.json')} users/u1/history/h1/deeper/d1`, doc: { _id: 'd1', x: 1 } },
      { collection: 'users', _id: 'h1', reason: "in subcollection users/u1/history: Gofannon's layout has no subcollections, so it is not imported", where: `${join(base, 'export.json')} users/u1/history/h1`, doc: { _id: 'h1', at: '1970-01-01T00:00:00.000Z' } },
    ]);
  });

  test('a tag that cannot be read dead-letters its document with the reason', async () => {
    const path = join(folder(), 'export.json');
    const file = {
      __collections__: {
        users: {
          ok: { where: firestoreGeopoint(1, 2), __collections__: {} },
          bytes: { key: { __datatype__: 'bytes', value: 'AA==' }, __collections__: {} },
          noValue: { at: { __datatype__: 'timestamp' }, __collections__: {} },
          badTime: { at: { __datatype__: 'timestamp', value: { _seconds: 'soon' } }, __collections__: {} },
          isoTime: { at: { __datatype__: 'timestamp', value: '2026-01-11T10:00:00Z' }, __collections__: {} },
        },
      },
    };
    writeFileSync(path, JSON.stringify(file));
    const { chunks } = await read(path);
    expect(docsOf(chunks).users).toEqual([{ _id: 'ok', where: { latitude: 1, longitude: 2 } }, { _id: 'isoTime', at: '2026-01-11T10:00:00.000Z' }]);
    expect(chunks.flatMap((c) => c.refused ?? []).map((r) => [r.where, r.reason])).toEqual([
      [`${path} users/bytes`, 'unknown __datatype__ "bytes"'],
      [`${path} users/noValue`, '__datatype__ "timestamp" has no "value"'],
      [`${path} users/badTime`, '__datatype__ "timestamp" without whole _seconds and _nanoseconds'],
    ]);
  });

  test('a collection exported on its own (--nodePath) is named after the file; --collection-name names it', async () => {
    const path = join(folder(), 'agents.json');
    writeFileSync(path, '{"a1": {"name": "x", "__collections__": {}}, "a2": {"n": 12345678901234567890, "__collections__": {}}}');
    expect(docsOf((await read(path)).chunks)).toEqual({ agents: [{ _id: 'a1', name: 'x' }, { _id: 'a2', n: new ExactNumber('12345678901234567890') }] });
    expect(Object.keys(docsOf((await read(path, { collectionName: 'tools' })).chunks))).toEqual(['tools']);
  });

  test('--collection-name on a database export, and the export of one document, are refused', async () => {
    const base = folder();
    writeFileSync(join(base, 'db.json'), JSON.stringify(firestoreExport().file));
    const named = await failure(() => read(join(base, 'db.json'), { collectionName: 'users' }));
    expect(named.kind).toBe('usage');
    writeFileSync(join(base, 'doc.json'), JSON.stringify({ __collections__: { sub: {} }, name: 'a document' }));
    const doc = await failure(() => read(join(base, 'doc.json')));
    expect(doc.kind).toBe('fatal');
    expect(doc.message).toMatch(/a top-level field "name" next to "__collections__": this is the export of one document/);
  });
});

describe('DynamoDB export folders', () => {
  test('read from the export folder, the folder above it, or its manifest: one collection named after the table, numbers exact', async () => {
    const { items, docs } = dynamoItems();
    const root = folder();
    const fixture = writeDynamoExport(root, 'agents', items);
    for (const path of [fixture.folder, root, join(fixture.folder, 'manifest-summary.json')]) {
      const { chunks } = await read(path);
      expect(docsOf(chunks)).toEqual({ agents: docs });
    }
    const source = await fileSource({ scheme: 'file', rest: root, raw: '' }, testAdapterOptions());
    expect(await source.listCollections()).toEqual(['agents']);
    expect(await source.count?.('agents')).toBe(3);
    expect(source.provider).toBe('dynamodb');
    expect(Object.keys(docsOf((await read(root, { collectionName: 'tools' })).chunks))).toEqual(['tools']);
  });

  test('a download that is incomplete or damaged is never read as whole', async () => {
    const { items } = dynamoItems();
    const missing = writeDynamoExport(folder(), 'agents', items);
    rmSync(missing.dataFiles[1]!);
    const gone = await failure(() => read(missing.folder));
    expect(gone.kind).toBe('usage');
    expect(gone.message).toBe(`${missing.dataFiles[1]}: listed in ${join(missing.folder, 'manifest-files.json')} but missing; the export's download is incomplete`);

    const short = writeDynamoExport(folder(), 'agents', items);
    writeFileSync(short.dataFiles[0]!, gzipSync(JSON.stringify({ Item: items[0] }) + '\n'));
    const fewer = await failure(() => read(short.folder));
    expect(fewer.kind).toBe('fatal');
    expect(fewer.message).toBe(`${short.dataFiles[0]}: holds 1 items where manifest-files.json says 2; the export's download is incomplete or damaged`);

    const cut = writeDynamoExport(folder(), 'agents', items);
    writeFileSync(cut.dataFiles[0]!, readFileSync(cut.dataFiles[0]!).subarray(0, 40));
    expect((await failure(() => read(cut.folder))).message).toMatch(/not valid gzip/);
  });

  test('an unpacked data file (gunzip data/*.gz) is found without its .gz', async () => {
    const { items, docs } = dynamoItems();
    const fixture = writeDynamoExport(folder(), 'agents', items);
    execFileSync('gunzip', [fixture.dataFiles[0]!]);
    expect(docsOf((await read(fixture.folder)).chunks)).toEqual({ agents: docs });
  });

  test('incremental and ION exports, several exports in one folder, a data file alone or on stdin are refused with what to do', async () => {
    const { items } = dynamoItems();
    const incremental = writeDynamoExport(folder(), 'agents', items, { summary: { exportType: 'INCREMENTAL_EXPORT' } });
    expect((await failure(() => read(incremental.folder))).message).toMatch(/INCREMENTAL_EXPORT holds changes, not a table; export the table in full/);
    const ion = writeDynamoExport(folder(), 'agents', items, { summary: { outputFormat: 'ION' } });
    expect((await failure(() => read(ion.folder))).message).toMatch(/the export is in ION; gofannon-etl reads DYNAMODB_JSON exports/);
    const root = folder();
    writeDynamoExport(root, 'agents', items, { exportId: '01767168000000-aaaaaaaa' });
    writeDynamoExport(root, 'users', items, { exportId: '01767168000000-bbbbbbbb' });
    const two = await failure(() => read(root));
    expect(two.kind).toBe('usage');
    expect(two.message).toMatch(/holds 2 DynamoDB exports \(01767168000000-aaaaaaaa, 01767168000000-bbbbbbbb\): name one/);
    const stdin = new PassThrough();
    stdin.end(readFileSync(join(incremental.folder, 'manifest-summary.json')));
    expect((await failure(() => read('-', { stdin }))).message).toBe('stdin: a DynamoDB export is read as its folder; name the folder that holds manifest-summary.json');
    const alone = await failure(() => read(incremental.dataFiles[0]!));
    expect(alone.kind).toBe('usage');
    expect(alone.message).toBe(`${incremental.dataFiles[0]}: a DynamoDB export is read as its folder; name the folder that holds manifest-summary.json`);
  });

  test('an item that is not DynamoDB JSON is dead-lettered; a line that is not an item stops the read', async () => {
    const base = folder();
    const fixture = writeDynamoExport(base, 'agents', [{ _id: { S: 'a' } }, { _id: { S: 'b' }, n: { N: 'abc' } }, { _id: { S: 'c' }, x: { Q: '1' } as never }]);
    const { chunks } = await read(fixture.folder);
    expect(docsOf(chunks)).toEqual({ agents: [{ _id: 'a' }] });
    expect(chunks.flatMap((c) => c.refused ?? []).map((r) => r.reason)).toEqual(['not DynamoDB JSON: "abc" is not a number', 'not DynamoDB JSON: unknown DynamoDB attribute type Q']);
    writeFileSync(fixture.dataFiles[0]!, gzipSync('{"Item":{"_id":{"S":"a"}}}\n{"NewImage":{"_id":{"S":"b"}}}\n'));
    expect((await failure(() => read(fixture.folder))).message).toBe(`${fixture.dataFiles[0]}: line 2: expected {"Item": {…}} (a full export's item) at byte 27`);
  });
});

describe('streamed, and resumed by entries', () => {
  test.each([
    ['couchbackup', (i: number) => `${JSON.stringify([rev({ _id: `d${i}` })])}\n`, '{"name":"@cloudant/couchbackup","version":"2.11.12","mode":"shallow"}\n', ''],
    ['array', (i: number) => `${i ? ',' : ''}\n{"_id":"d${i}"}`, '[', ']'],
    ['firestore-export', (i: number) => `${i ? ',' : ''}"d${i}":{"__collections__":{}}`, '{"__collections__":{"c":{', '}}}'],
  ])('%s: documents come out while the input is still arriving', async (format, entry, head, tail) => {
    const stdin = new PassThrough();
    stdin.write(head);
    for (let i = 0; i < 50; i++) stdin.write(entry(i));
    // Named, so stdin is not held back to sniff its first 64 KiB.
    const source = createSource({ stream: stdin, name: 'stdin', owns: false }, testAdapterOptions({ batchSize: 10, collectionName: format === 'firestore-export' ? undefined : 'c', format: format as 'array' }), 'file:-');
    const chunks = source.read({ signal })[Symbol.asyncIterator]();
    // The input is not finished: whatever comes out was read from its first part, not the whole.
    let seen = 0;
    while (seen < 10) seen += ((await chunks.next()).value as SourceChunk).docs.length;
    expect(stdin.writableEnded).toBe(false);
    for (let i = 50; i < 60; i++) stdin.write(entry(i));
    stdin.end(tail);
    for (let next = await chunks.next(); !next.done; next = await chunks.next()) seen += next.value.docs.length;
    expect(seen).toBe(60);
  });

  test('a checkpoint position counts entries: a resumed read starts after them, skipping whole DynamoDB data files unread', async () => {
    const path = join(folder(), 'c.json');
    writeFileSync(path, JSON.stringify(Array.from({ length: 7 }, (_, i) => ({ _id: `d${i}` }))));
    const { chunks } = await read(path, { batchSize: 3, resumeFrom: { format: 'array', entries: 4, collection: 'c' } });
    expect(docsOf(chunks).c).toEqual([{ _id: 'd4' }, { _id: 'd5' }, { _id: 'd6' }]);
    expect(chunks.at(-1)!.position).toEqual({ format: 'array', entries: 7, collection: 'c' });
    expect((await failure(() => read(path, { resumeFrom: { format: 'json', offset: 10, collection: 'c' } }))).kind).toBe('usage');

    const { items, docs } = dynamoItems();
    const fixture = writeDynamoExport(folder(), 'agents', items);
    // The first data file holds entries 1-2: past them, it is not even opened.
    renameSync(fixture.dataFiles[0]!, `${fixture.dataFiles[0]}.moved`);
    writeFileSync(fixture.dataFiles[0]!, 'not gzip');
    const resumed = await read(fixture.folder, { resumeFrom: { format: 'dynamodb-export', entries: 2, collection: 'agents' } });
    expect(docsOf(resumed.chunks).agents).toEqual(docs.slice(2));
  });

  test('a run stopped by its target resumes from its checkpoint without sending the acknowledged documents again', async () => {
    const base = folder();
    const path = join(base, 'agents.txt');
    const ids = Array.from({ length: 12 }, (_, i) => `d${String(i).padStart(2, '0')}`);
    writeFileSync(path, couchbackupText([ids.slice(0, 5).map((_id) => rev({ _id })), ids.slice(5).map((_id) => rev({ _id }))]));
    const sent: string[][] = [];
    let down = true;
    const sink: Sink = {
      label: 'test',
      provider: 'test',
      batchSize: 2,
      concurrency: 1,
      identity: async () => 'test-sink',
      prepare: async () => {},
      async write(_collection, docs) {
        if (down && sent.flat().length >= 6) throw new EtlError('fatal', 'write-failed', 'the target went away');
        sent.push(docs.map((d) => d._id as string));
        return docs.map(() => ({ status: 'written' as const }));
      },
      close: async () => {},
    };
    const checkpoint = join(base, 'run.ckpt');
    await expect(migrate({ from: `file:${path}`, to: sink, batchSize: 2, checkpoint, ...quiet })).rejects.toThrow('the target went away');
    const before = sent.flat();
    down = false;
    const report = await migrate({ from: `file:${path}`, to: sink, batchSize: 2, checkpoint, resume: true, ...quiet });
    expect(report.ok).toBe(true);
    const after = sent.flat().slice(before.length);
    expect([...before, ...after].sort()).toEqual(ids);
    expect(after[0]).toBe(ids[before.length]);
    expect(parseJson(readFileSync(checkpoint, 'utf8'))).toMatchObject({ complete: true, position: { format: 'couchbackup', entries: 12, collection: 'agents' } });
  });
});

describe('the built CLI', () => {
  const run = (args: string[], input?: string) => {
    try {
      return { code: 0, stdout: execFileSync(process.execPath, [cli, ...args], { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, CI: 'true' } }), stderr: '' };
    } catch (error) {
      const e = error as { status: number; stdout: string; stderr: string };
      return { code: e.status, stdout: e.stdout, stderr: e.stderr };
    }
  };

  test('couchbackup piped in with --collection-name, out as our NDJSON; without a name, exit 2 and one line', () => {
    const text = couchbackupText([[rev({ _id: 'a', n: new ExactNumber('0.10000000000000000001') })]]);
    const ok = run(['--from', 'file:-', '--collection-name', 'agents', '--to', 'file:-', '--quiet'], text);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('"agents": [');
    expect(ok.stdout).toContain('"n": 0.10000000000000000001');
    expect(ok.stdout).not.toContain('_rev');
    const unnamed = run(['--from', 'file:-', '--to', 'null'], text);
    expect(unnamed.code).toBe(2);
    expect(unnamed.stderr.trim().split('\n')).toHaveLength(1);
    expect(unnamed.stderr).toMatch(/^gofannon-etl: stdin holds one collection and no file name to name it after: give --collection-name NAME/);
  });

  test('--format outside its choices is exit 2; the printed verify command carries --format and --collection-name, and works', () => {
    expect(run(['--from', 'file:x.json', '--format', 'csv', '--to', 'null']).code).toBe(2);
    const base = folder();
    const path = join(base, 'dump.txt');
    writeFileSync(path, '[{"_id":"a","n":1},{"_id":"b"}]');
    const out = join(base, 'out.json');
    const result = run(['--from', `file:${path}`, '--format', 'array', '--collection-name', 'agents', '--to', `file:${out}`]);
    expect(result.code).toBe(0);
    const printed = /gofannon-etl (verify .*)$/m.exec(result.stdout)?.[1];
    expect(printed).toBe(`verify --from file:${path} --to file:${out} --format array --collection-name agents`);
    const check = run(printed!.split(' '));
    expect(check.code).toBe(0);
    expect(check.stdout).toMatch(/agents\s+2\s+2\s+2/);
  });
});
