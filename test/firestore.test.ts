/** The Firestore adapters against the in-process emulator (test/global-setup.ts). */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Firestore, GeoPoint, Timestamp } from '@google-cloud/firestore';
import { afterAll, describe, expect, inject, test } from 'vitest';
import { ExactNumber } from '../src/formats/exact-number.js';
import { stringifyExact } from '../src/formats/serialize.js';
import { memoryStore } from '../src/stores/memory/store.js';
import { openSink, openSource } from '../src/registry.js';
import firestoreSink from '../src/sinks/firestore.js';
import firestoreSource from '../src/sources/firestore.js';
import type { AdapterOptions, Doc, Source, SourceChunk } from '../src/types.js';
import { describeConformance } from './conformance.js';
import { corpus, sortById, uniquePrefix } from './corpus.js';
import { firestoreCorpus } from './firestore-corpus.js';
import { testAdapterOptions } from './helpers.js';

const host = inject('firestoreHost');
// A project of its own, so other test files on the same emulator never meet these documents.
const projectId = `etl-test-${uniquePrefix()}`;
const env = { FIRESTORE_EMULATOR_HOST: host, FIRESTORE_PROJECT_ID: projectId };
const uri = { scheme: 'firestore', rest: '', raw: 'firestore' };
const options = (o: Partial<AdapterOptions> = {}) => testAdapterOptions({ env, ...o });

/** The raw SDK on the same emulator, to write and inspect what the adapters cannot. */
const raw = new Firestore({ projectId, host, ssl: false, useBigInt: true, universeDomain: 'googleapis.com' });
afterAll(() => raw.terminate());

async function readAll(source: Source, collections: string[]): Promise<Doc[]> {
  const docs: Doc[] = [];
  const chunks: SourceChunk[] = [];
  for await (const chunk of source.read({ collections: new Set(collections), signal: new AbortController().signal })) chunks.push(chunk);
  for (const chunk of chunks) docs.push(...(chunk.docs as Doc[]));
  return docs;
}

async function writeDocs(collection: string, docs: Doc[], o: Partial<AdapterOptions> = {}) {
  const sink = await firestoreSink(uri, options(o));
  await sink.prepare(collection);
  const outcomes = await sink.write(collection, docs, new AbortController().signal);
  await sink.close(true);
  return outcomes;
}

describeConformance('firestore', {
  sink: async (o) => firestoreSink(uri, options(o)),
  source: async (o) => firestoreSource(uri, options(o)),
  corpus: () => firestoreCorpus({ bigIntegers: false }),
  // The emulator has no ListCollectionIds; production Firestore lists its root collections.
  lists: 'cannot',
  refuses: [
    { doc: { _id: 'reserved', profile: { __meta__: 1 } }, reason: /profile\.__meta__.*reserves/ },
    { doc: { _id: 'nested-array', list: [[1]] }, reason: /array inside an array/ },
  ],
});

describe('firestore numbers', () => {
  test('integers are written as integers and floats as doubles, and read back the same', async () => {
    const collection = `${uniquePrefix()}_numbers`;
    const doc: Doc = {
      _id: 'n',
      int: 3,
      negative: -42,
      safeMax: Number.MAX_SAFE_INTEGER,
      float: 2.5,
      integralFloat: new ExactNumber('2.0'),
      exponentFloat: new ExactNumber('1e3'),
      trailingZero: new ExactNumber('1.50'),
      nested: { list: [1, new ExactNumber('1.0'), 0.1] },
    };
    expect(await writeDocs(collection, [doc])).toEqual([{ status: 'written' }]);

    // useBigInt reads integers as bigint and doubles as number: the stored kinds, seen directly.
    const stored = (await raw.collection(collection).doc('n').get()).data()!;
    expect(stored).toEqual({
      int: 3n,
      negative: -42n,
      safeMax: BigInt(Number.MAX_SAFE_INTEGER),
      float: 2.5,
      integralFloat: 2,
      exponentFloat: 1000,
      trailingZero: 1.5,
      nested: { list: [1n, 1, 0.1] },
    });
    expect('_id' in stored).toBe(false);

    const source = await firestoreSource(uri, options());
    const [back] = await readAll(source, [collection]);
    await source.close();
    expect(back).toEqual({
      _id: 'n',
      int: 3,
      negative: -42,
      safeMax: Number.MAX_SAFE_INTEGER,
      float: 2.5,
      integralFloat: new ExactNumber('2.0'),
      exponentFloat: new ExactNumber('1000.0'),
      trailingZero: 1.5,
      nested: { list: [1, new ExactNumber('1.0'), 0.1] },
    });
  });
});

describe('firestore types into JSON', () => {
  test('Timestamp, GeoPoint, Bytes and DocumentReference are read as ISO, {latitude, longitude}, base64 and path', async () => {
    const collection = `${uniquePrefix()}_types`;
    await raw.collection(collection).doc('t').set({
      at: new Timestamp(1_768_125_600, 123_000_000),
      atNanos: new Timestamp(0, 5),
      where: new GeoPoint(51.5, -0.125),
      bytes: Buffer.from([0, 1, 2, 250, 255]),
      ref: raw.collection('users').doc('user-1'),
      list: [new Timestamp(1_768_125_600, 0)],
    });
    const source = await firestoreSource(uri, options());
    const [doc] = await readAll(source, [collection]);
    await source.close();
    expect(doc).toEqual({
      _id: 't',
      at: '2026-01-11T10:00:00.123Z',
      atNanos: '1970-01-01T00:00:00.000000005Z',
      where: { latitude: 51.5, longitude: -0.125 },
      bytes: Buffer.from([0, 1, 2, 250, 255]).toString('base64'),
      ref: 'users/user-1',
      list: ['2026-01-11T10:00:00.000Z'],
    });
  });
});

describe('firestore sink', () => {
  test('refuses documents Firestore cannot hold, one by one, and writes the rest of the batch', async () => {
    const collection = `${uniquePrefix()}_refused`;
    let deep: Doc[string] = 'bottom';
    for (let i = 0; i < 21; i++) deep = { level: deep };
    const docs: Doc[] = [
      { _id: 'ok-1', v: 1 },
      { _id: 'reserved', profile: { __meta__: 1 } },
      { _id: 'deep', deep },
      { _id: 'huge', blob: 'x'.repeat(1024 * 1024) },
      { _id: 'beyond-int64', n: new ExactNumber('9223372036854775808') },
      { _id: 'inexact', n: new ExactNumber('0.10000000000000000001') },
      { _id: 'nested-array', list: [[1]] },
      { _id: 'a/b', v: 1 },
      { _id: 'ok-2', v: 2 },
    ];
    const sink = await firestoreSink(uri, options());
    const reasons = docs.map((d) => sink.check!(d, collection));
    expect(reasons[0]).toBeUndefined();
    expect(reasons[1]).toMatch(/profile\.__meta__.*reserves/);
    expect(reasons[2]).toMatch(/deeper than Firestore's 20 levels/);
    expect(reasons[3]).toMatch(/over its 1 MiB/);
    expect(reasons[4]).toMatch(/integer 9223372036854775808 is beyond int64/);
    expect(reasons[5]).toMatch(/cannot be stored exactly/);
    expect(reasons[6]).toMatch(/array inside an array/);
    expect(reasons[7]).toMatch(/contains "\/"/);
    expect(reasons[8]).toBeUndefined();

    // write() refuses them as well (without check() first), and the good ones still land.
    await sink.prepare(collection);
    const outcomes = await sink.write(collection, docs, new AbortController().signal);
    await sink.close(true);
    expect(outcomes.map((o) => o.status)).toEqual(['written', 'failed', 'failed', 'failed', 'failed', 'failed', 'failed', 'failed', 'written']);
    expect(outcomes[1]).toEqual({ status: 'failed', reason: reasons[1] });
    const snapshot = await raw.collection(collection).get();
    expect(snapshot.docs.map((d) => d.id).sort()).toEqual(['ok-1', 'ok-2']);
  });

  test('a nesting of exactly 20 levels is accepted', async () => {
    let deep: Doc[string] = 'bottom';
    for (let i = 0; i < 20; i++) deep = { level: deep };
    expect(await writeDocs(`${uniquePrefix()}_deep20`, [{ _id: 'd', deep }])).toEqual([{ status: 'written' }]);
  });

  test('--on-conflict skip and fail leave existing documents alone and say so per document', async () => {
    const collection = `${uniquePrefix()}_conflict`;
    await writeDocs(collection, [{ _id: 'old', v: 1 }]);
    expect(await writeDocs(collection, [{ _id: 'old', v: 2 }, { _id: 'new', v: 2 }], { onConflict: 'skip' })).toEqual([
      { status: 'skipped', reason: 'exists in target' },
      { status: 'written' },
    ]);
    expect(await writeDocs(collection, [{ _id: 'old', v: 3 }, { _id: 'newer', v: 3 }], { onConflict: 'fail' })).toEqual([
      { status: 'failed', reason: 'conflict: _id old exists in target' },
      { status: 'written' },
    ]);
    expect((await raw.collection(collection).doc('old').get()).data()).toEqual({ v: 1n });
  });

  test('overwriting replaces the document: a field its new version no longer has is gone (as a follow needs)', async () => {
    const collection = `${uniquePrefix()}_replace`;
    await writeDocs(collection, [{ _id: 'doc', kept: 1, dropped: { nested: true } }]);
    expect(await writeDocs(collection, [{ _id: 'doc', kept: 2 }])).toEqual([{ status: 'written' }]);
    expect((await raw.collection(collection).doc('doc').get()).data()).toEqual({ kept: 2n });
  });

  test('writes more than one commit holds (500 writes) through several batches', async () => {
    const collection = `${uniquePrefix()}_many`;
    const docs = Array.from({ length: 1203 }, (_, i) => ({ _id: `d${String(i).padStart(5, '0')}`, i }));
    const outcomes = await writeDocs(collection, docs);
    expect(outcomes.every((o) => o.status === 'written')).toBe(true);
    expect((await raw.collection(collection).count().get()).data().count).toBe(1203n);
  });
});

describe('firestore source', () => {
  test('the emulator cannot list its collections: the source says so (undefined), it does not fail', async () => {
    const source = await firestoreSource(uri, options());
    expect(await source.listCollections()).toBeUndefined();
    await source.close();
  });

  test('counts a collection', async () => {
    const collection = `${uniquePrefix()}_count`;
    await writeDocs(collection, [{ _id: 'a' }, { _id: 'b' }, { _id: 'c' }]);
    const source = await firestoreSource(uri, options());
    expect(await source.count!(collection)).toBe(3);
    await source.close();
  });
});

describe('firestore configuration', () => {
  test('firestore://project-id through the registry, with the emulator from options.env', async () => {
    const collection = `${uniquePrefix()}_uri`;
    const sink = await openSink(`firestore://${projectId}`, testAdapterOptions({ env: { FIRESTORE_EMULATOR_HOST: host } }));
    expect(sink.label).toBe(`firestore://${projectId} (emulator ${host})`);
    await sink.prepare(collection);
    expect(await sink.write(collection, [{ _id: 'u', v: 1 }], new AbortController().signal)).toEqual([{ status: 'written' }]);
    await sink.close(true);
    const source = await openSource('firestore', testAdapterOptions({ env }));
    expect(await readAll(source, [collection])).toEqual([{ _id: 'u', v: 1 }]);
    expect(await source.identity()).toBe(await sink.identity());
    await source.close();
  });

  test('no project id is a usage error naming FIRESTORE_PROJECT_ID', async () => {
    const error = await openSource('firestore', testAdapterOptions({ env: { FIRESTORE_EMULATOR_HOST: host } })).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: 'usage', code: 'missing-firestore-project' });
    expect((error as Error).message).toMatch(/FIRESTORE_PROJECT_ID/);
  });

  test('a missing credentials file is named before any connection is tried', async () => {
    const error = await openSink('firestore://p', testAdapterOptions({ env: { GOOGLE_APPLICATION_CREDENTIALS: '/nonexistent/key.json' } })).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: 'usage', code: 'missing-credentials-file' });
  });
});

describe('firestore round trip through migrate', () => {
  const exportFile = (data: Record<string, Doc[]>) =>
    stringifyExact({ metadata: { provider: 'memory', exported_at: '2026-01-11T10:00:00Z', collections: Object.keys(data) }, data }, 2);

  test('file → Firestore → file keeps the corpus exactly', async () => {
    const { migrate } = await import('../src/pipeline.js');
    const dir = mkdtempSync(join(tmpdir(), 'firestore-'));
    const prefix = uniquePrefix();
    const data = Object.fromEntries(Object.entries(firestoreCorpus({ bigIntegers: false })).map(([c, docs]) => [`${prefix}_${c}`, docs]));
    data[`${prefix}_floats`] = [{ _id: 'f', whole: new ExactNumber('1.0'), big: 1e300, small: 5e-324, int: 7 }];
    const input = join(dir, 'in.json');
    writeFileSync(input, exportFile(data));
    const collections = Object.keys(data);

    const into = await migrate({ from: `file:${input}`, to: `firestore://${projectId}`, env, collections, warn: () => {} });
    expect(into.ok).toBe(true);
    for (const name of collections) expect(into.collections[name]).toMatchObject({ read: data[name]!.length, written: data[name]!.length, failed: 0 });

    const output = join(dir, 'out.json');
    const back = await migrate({ from: `firestore://${projectId}`, to: `file:${output}`, env, collections, warn: () => {} });
    expect(back.ok).toBe(true);
    expect(JSON.parse(readFileSync(output, 'utf8')).metadata.provider).toBe('firestore');

    const store = `fs-roundtrip-${prefix}`;
    await migrate({ from: `file:${output}`, to: `memory:${store}`, collections, warn: () => {} });
    for (const name of collections) {
      expect(sortById([...memoryStore(store).get(name)!.values()])).toEqual(sortById(data[name]!));
    }
  });

  test('documents of the shared corpus Firestore cannot hold are dead-lettered with their reasons', async () => {
    const { migrate } = await import('../src/pipeline.js');
    const dir = mkdtempSync(join(tmpdir(), 'firestore-'));
    const collection = `${uniquePrefix()}_agents`;
    const input = join(dir, 'in.json');
    writeFileSync(input, exportFile({ [collection]: corpus().agents! }));
    const deadLetter = join(dir, 'dead.ndjson');
    const report = await migrate({ from: `file:${input}`, to: `firestore://${projectId}`, env, deadLetter, warn: () => {} });
    expect(report.collections[collection]).toMatchObject({ read: 3, written: 1, failed: 2 });
    const lines = readFileSync(deadLetter, 'utf8').trim().split('\n').map((l) => JSON.stringify(JSON.parse(l)));
    expect(lines.join('\n')).toMatch(/array inside an array/);
    expect(lines.join('\n')).toMatch(/contains \\"\/\\"/);
  });
});
