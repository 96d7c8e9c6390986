import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
/** Firestore adapter logic without a server: number mapping, limits, batching, splitting, resuming. */
import * as sdk from '@google-cloud/firestore';
import { describe, expect, test } from 'vitest';
import { EtlError } from '../src/errors.js';
import { groupForCommits } from '../src/stores/firestore/batches.js';
import { firestoreConfig } from '../src/stores/firestore/config.js';
import { createDecoder } from '../src/stores/firestore/decode.js';
import { isoTimestamp } from '../src/formats/timestamp.js';
import { encodeDoc } from '../src/stores/firestore/encode.js';
import { sameDecimal, storedNumber } from '../src/stores/firestore/numbers.js';
import { ExactNumber } from '../src/formats/exact-number.js';
import { createSink } from '../src/sinks/firestore.js';
import { createSource } from '../src/sources/firestore.js';
import type { FirestoreDocument, FirestoreReader, FirestoreWrite, FirestoreWriter } from '../src/stores/firestore/client.js';
import type { AdapterOptions, Doc, SourceChunk } from '../src/types.js';
import { testAdapterOptions } from './helpers.js';
import { expectExactShares, gofannonIds } from './shard-ids.js';

const signal = () => new AbortController().signal;
const grpcError = (code: number, message: string) => Object.assign(new Error(`${code} ${message}`), { code });

describe('number mapping', () => {
  test.each([
    [3, { kind: 'integer', value: 3n }],
    [-0, { kind: 'integer', value: 0n }],
    [2.5, { kind: 'double', value: 2.5 }],
    [1e21, { kind: 'double', value: 1e21 }],
    [new ExactNumber('9223372036854775807'), { kind: 'integer', value: 9223372036854775807n }],
    [new ExactNumber('-9223372036854775808'), { kind: 'integer', value: -9223372036854775808n }],
    [new ExactNumber('2.0'), { kind: 'double', value: 2 }],
    [new ExactNumber('1.50'), { kind: 'double', value: 1.5 }],
    [new ExactNumber('1E+3'), { kind: 'double', value: 1000 }],
  ])('%s is stored as %o', (n, expected) => {
    expect(storedNumber(n)).toEqual(expected);
  });

  test.each([
    [new ExactNumber('9223372036854775808'), /beyond int64/],
    [new ExactNumber('-9223372036854775809'), /beyond int64/],
    [10000000000000000000, /beyond int64/],
    [new ExactNumber('0.10000000000000000001'), /cannot be stored exactly/],
    [new ExactNumber('12345678901234567890.5'), /cannot be stored exactly/],
    [new ExactNumber('1e400'), /beyond the range/],
  ])('%s is refused', (n, reason) => {
    const stored = storedNumber(n);
    expect(stored.kind).toBe('invalid');
    expect(stored.kind === 'invalid' && stored.reason).toMatch(reason);
  });

  test('decimal equality ignores form, not value', () => {
    expect(sameDecimal('1.50', '1.5')).toBe(true);
    expect(sameDecimal('0.00', '0')).toBe(true);
    expect(sameDecimal('1.5e-7', '0.00000015')).toBe(true);
    expect(sameDecimal('0.1000000000000000055511151231257827', '0.1')).toBe(false);
  });
});

describe('int64 extremes on the wire', () => {
  // The emulator cannot store integers beyond 2^53, so the exact wire values are checked at the SDK's
  // own serializer (internal `_serializer`): what production Firestore receives and sends back.
  const db = new sdk.Firestore({ projectId: 'wire', useBigInt: true });
  const serializer = (db as unknown as { _serializer: { encodeFields(d: object): Record<string, unknown>; decodeValue(v: object): unknown } })._serializer;

  test('are sent as exact integerValues and doubles as doubleValues', () => {
    const encoded = encodeDoc(
      { _id: 'x', max: new ExactNumber('9223372036854775807'), min: new ExactNumber('-9223372036854775808'), two: new ExactNumber('2.0'), three: 3, half: 0.5 },
      'c',
    );
    expect(encoded.ok).toBe(true);
    expect(serializer.encodeFields(encoded.ok ? encoded.data : {})).toEqual({
      max: { integerValue: '9223372036854775807' },
      min: { integerValue: '-9223372036854775808' },
      two: { doubleValue: 2 },
      three: { integerValue: '3' },
      half: { doubleValue: 0.5 },
    });
  });

  test('are read back exactly', () => {
    const decode = createDecoder(sdk, () => {});
    const data = {
      max: serializer.decodeValue({ integerValue: '9223372036854775807', valueType: 'integerValue' }),
      min: serializer.decodeValue({ integerValue: '-9223372036854775808', valueType: 'integerValue' }),
      safe: serializer.decodeValue({ integerValue: '42', valueType: 'integerValue' }),
      two: serializer.decodeValue({ doubleValue: 2, valueType: 'doubleValue' }),
    };
    expect(decode(data)).toEqual({ max: new ExactNumber('9223372036854775807'), min: new ExactNumber('-9223372036854775808'), safe: 42, two: new ExactNumber('2.0') });
  });
});

describe('decoding', () => {
  test('values JSON cannot carry become null with a warning naming the field', () => {
    const lost: string[] = [];
    const decode = createDecoder(sdk, (path, what) => lost.push(`${path}=${what}`));
    expect(decode({ a: { b: [1n, Number.NaN] }, c: Number.POSITIVE_INFINITY, d: -0 })).toEqual({ a: { b: [1, null] }, c: null, d: new ExactNumber('-0.0') });
    expect(lost).toEqual(['a.b[1]=NaN', 'c=Infinity']);
  });

  test('timestamps keep their nanoseconds', () => {
    expect(isoTimestamp(0, 0)).toBe('1970-01-01T00:00:00.000Z');
    expect(isoTimestamp(1, 120_000)).toBe('1970-01-01T00:00:01.000120Z');
    expect(isoTimestamp(-1, 999_999_999)).toBe('1969-12-31T23:59:59.999999999Z');
  });
});

describe('limits', () => {
  test('document size follows Firestore storage-size rules', () => {
    // name: "c"+1 + "abc"+1 + 16 = 22; field "s"+1 + "hello"+1 = 8; "n"+1 + 8 = 10; 32 for the document.
    const encoded = encodeDoc({ _id: 'abc', s: 'hello', n: 1 }, 'c');
    expect(encoded.ok && encoded.storedBytes).toBe(22 + 8 + 10 + 32);
  });

  test('ids and field names Firestore refuses', () => {
    const reason = (doc: Doc) => {
      const e = encodeDoc(doc, 'c');
      return e.ok ? undefined : e.reason;
    };
    expect(reason({ _id: '__x__' })).toMatch(/reserves/);
    expect(reason({ _id: '..' })).toMatch(/not allowed/);
    expect(reason({ _id: 'x'.repeat(1501) })).toMatch(/1500 bytes/);
    expect(reason({ _id: 'ok', '': 1 })).toMatch(/empty name/);
    expect(reason({ _id: 'ok', s: 'bad \ud800 surrogate' })).toMatch(/unpaired surrogate/);
    expect(reason({ _id: 'ok', __name__: 1 })).toMatch(/reserves/);
    expect(reason({ _id: 'ok', _under: 1, __half: 1, 'a.b': { 'x y': 1 } })).toBeUndefined();
  });

  test('commits hold at most 500 writes and stay within the request budget', () => {
    const items = Array.from({ length: 1201 }, () => ({ requestBytes: 10 }));
    expect(groupForCommits(items).map((g) => g.length)).toEqual([500, 500, 201]);
    expect(groupForCommits(Array.from({ length: 5 }, () => ({ requestBytes: 40 })), 500, 100).map((g) => g.length)).toEqual([2, 2, 1]);
    expect(groupForCommits([{ requestBytes: 500 }], 500, 100)).toHaveLength(1);
  });
});

/** A client whose commits fail as a whole when they contain a poisoned id, like an atomic WriteBatch. */
function fakeWriteClient(behaviour: { poisoned?: Set<string>; failFirst?: number[]; existing?: Set<string>; error?: (ids: string[]) => Error | undefined }) {
  const committed: FirestoreWrite[][] = [];
  const attempts = { commits: 0 };
  const client: FirestoreWriter = {
    label: 'firestore://fake',
    identity: 'firestore://fake',
    where: '127.0.0.1:1',
    async commit(_collection, writes, mode) {
      attempts.commits++;
      const transient = behaviour.failFirst?.shift();
      if (transient !== undefined) throw grpcError(transient, 'try again');
      const ids = writes.map((w) => w.id);
      const custom = behaviour.error?.(ids);
      if (custom) throw custom;
      if (ids.some((id) => behaviour.poisoned?.has(id))) throw grpcError(3, 'INVALID_ARGUMENT: bad value');
      if (mode === 'create' && ids.some((id) => behaviour.existing?.has(id))) throw grpcError(6, 'ALREADY_EXISTS');
      committed.push(writes);
    },
    existing: async () => new Set(),
    remove: async () => {},
    async *allIds() {},
    close: async () => {},
  };
  return { client, committed, attempts };
}

const sinkWith = (client: FirestoreWriter, o: Partial<AdapterOptions> = {}) => createSink(client, testAdapterOptions({ retries: 3, ...o }));

describe('sink batches', () => {
  const docs = Array.from({ length: 16 }, (_, i) => ({ _id: `d${i}`, i }));

  test('a batch failing as a whole is split until the bad document is isolated', async () => {
    const { client, committed, attempts } = fakeWriteClient({ poisoned: new Set(['d11']) });
    const outcomes = await sinkWith(client).write('c', docs, signal());
    expect(outcomes.filter((o) => o.status === 'written')).toHaveLength(15);
    expect(outcomes[11]).toEqual({ status: 'failed', reason: 'Firestore rejected the document: 3 INVALID_ARGUMENT: bad value' });
    expect(committed.flat().map((w) => w.id).sort()).toEqual(docs.map((d) => d._id).filter((id) => id !== 'd11').sort());
    // 1 whole + log2(16) levels of two halves: the split costs O(log n) commits, not one per document.
    expect(attempts.commits).toBe(1 + 2 * 4);
  });

  test('transient errors are retried with backoff, then the batch is written once', async () => {
    const { client, committed } = fakeWriteClient({ failFirst: [14, 8, 10] });
    const sink = sinkWith(client);
    const outcomes = await sink.write('c', docs.slice(0, 3), signal());
    expect(outcomes).toEqual(docs.slice(0, 3).map(() => ({ status: 'written' })));
    expect(committed).toHaveLength(1);
  });

  test('a target still unavailable after the retry budget stops the run', async () => {
    const { client } = fakeWriteClient({ failFirst: [14, 14, 14, 14, 14] });
    const error = await sinkWith(client, { retries: 2 }).write('c', docs.slice(0, 2), signal()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EtlError);
    expect(error).toMatchObject({ kind: 'fatal', code: 'firestore-write-failed' });
  });

  test('permission errors are fatal, never blamed on a document', async () => {
    const { client, attempts } = fakeWriteClient({ error: () => grpcError(7, 'PERMISSION_DENIED: Missing or insufficient permissions.') });
    const error = await sinkWith(client).write('c', docs, signal()).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: 'fatal', code: 'firestore-write-failed' });
    expect(attempts.commits).toBe(1);
  });

  test('an error without a gRPC status (the client could not start, e.g. no credentials) is fatal', async () => {
    const { client } = fakeWriteClient({ error: () => new Error('Could not load the default credentials.') });
    await expect(sinkWith(client).write('c', docs, signal())).rejects.toMatchObject({ kind: 'fatal', message: expect.stringMatching(/default credentials/) });
  });

  test('a document created by someone else between the check and the commit is a conflict, alone', async () => {
    const { client } = fakeWriteClient({ existing: new Set(['d2']) });
    const outcomes = await sinkWith(client, { onConflict: 'skip' }).write('c', docs.slice(0, 4), signal());
    expect(outcomes.map((o) => o.status)).toEqual(['written', 'written', 'skipped', 'written']);
  });

  test('batchSize is capped at 500 and concurrency defaults to 4', () => {
    const { client } = fakeWriteClient({});
    expect(sinkWith(client, { batchSize: 2000 }).batchSize).toBe(500);
    expect(sinkWith(client).concurrency).toBe(4);
  });
});

/** A read client that, like the emulator, ignores the cursor and returns every document. */
function fakeReadClient(
  ids: string[],
  listing: () => Promise<string[]> = async () => ['b', 'a'],
  hasDocuments: (collection: string) => Promise<boolean> = async (collection) => ['a', 'b'].includes(collection),
): FirestoreReader & { pulled: number } {
  const client = {
    label: 'firestore://fake',
    identity: 'firestore://fake',
    where: '127.0.0.1:1',
    pulled: 0,
    listCollections: listing,
    hasDocuments,
    count: async () => ids.length,
    async *documents(): AsyncIterable<FirestoreDocument> {
      for (const id of ids) {
        client.pulled++;
        yield { id, data: { v: id } };
      }
    },
    documentsById: async () => [],
    ids: async () => ids,
    honoursCursors: async () => false,
    listen: () => () => {},
    close: async () => {},
  };
  return client;
}

/** A read client that, like Firestore, keeps ids in UTF-8 order and honours cursors; it counts the documents and ids it reads. */
function fakeRangeClient(all: string[]): FirestoreReader & { read: number } {
  const sorted = [...all].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const after = (id: string | undefined) => (id === undefined ? sorted : sorted.filter((i) => Buffer.compare(Buffer.from(i), Buffer.from(id)) > 0));
  const client = {
    ...fakeReadClient([]),
    read: 0,
    async *documents(_: string, afterId: string | undefined): AsyncIterable<FirestoreDocument> {
      for (const id of after(afterId)) {
        client.read++;
        yield { id, data: { v: id } };
      }
    },
    documentsById: async (_: string, wanted: string[]) => {
      const found = wanted.filter((id) => sorted.includes(id));
      client.read += found.length;
      return found.map((id) => ({ id, data: { v: id } }));
    },
    ids: async (_: string, afterId: string | undefined, limit: number) => {
      const found = after(afterId).slice(0, limit);
      client.read += found.length;
      return found;
    },
    honoursCursors: async () => true,
  };
  return client;
}

async function collect(iterable: AsyncIterable<SourceChunk>): Promise<SourceChunk[]> {
  const chunks: SourceChunk[] = [];
  for await (const chunk of iterable) chunks.push(chunk);
  return chunks;
}

describe('source', () => {
  const sourceOn = (client: FirestoreReader) => createSource(client, { batchSize: 2 });

  test('skips ids up to the resume position even when the server ignores the cursor', async () => {
    const source = sourceOn(fakeReadClient(['a', 'b', 'c', 'd', 'é']));
    const chunks = await collect(source.read({ collections: new Set(['x']), resumeFrom: { collection: 'x', lastId: 'b' }, signal: signal() }));
    expect(chunks[0]).toMatchObject({ collection: 'x', docs: [], position: { collection: 'x', lastId: 'b' } });
    expect(chunks.flatMap((c) => c.docs)).toEqual([{ _id: 'c', v: 'c' }, { _id: 'd', v: 'd' }, { _id: 'é', v: 'é' }]);
    expect(chunks[1]!.position).toEqual({ collection: 'x', lastId: 'd' });
  });

  test('shards list the ids and read their own by id where the server honours cursors: each document once, each id listed once', async () => {
    const ids = gofannonIds(600);
    const clients = [0, 1, 2].map(() => fakeRangeClient(ids));
    const shares = await Promise.all(
      clients.map(async (client, index) => {
        const chunks = await collect(sourceOn(client).read({ collections: new Set(['x']), shard: { index, count: 3 }, signal: signal() }));
        return chunks.flatMap((c) => c.docs as Doc[]).map((d) => d._id as string);
      }),
    );
    expectExactShares(shares, ids);
    // Every id once (two pages a shard, then the empty one), and its own documents.
    for (const [index, client] of clients.entries()) expect(client.read).toBe(600 + shares[index]!.length);
  });

  test('where the server ignores cursors, a shard reads the collection whole, keeps its own, and says so once', async () => {
    const ids = gofannonIds(90);
    const warnings: string[] = [];
    const shares = await Promise.all(
      [0, 1, 2].map(async (index) => {
        const client = fakeReadClient(ids);
        const source = createSource(client, { batchSize: 2, warn: (m) => warnings.push(m) });
        const chunks = await collect(source.read({ collections: new Set(['x', 'y']), shard: { index, count: 3 }, signal: signal() }));
        return chunks.filter((c) => c.collection === 'x').flatMap((c) => c.docs as Doc[]).map((d) => d._id as string);
      }),
    );
    expectExactShares(shares, ids);
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toMatch(/ignores query cursors \(as the community emulator does\): shard \d\/3 reads each collection whole/);
    // An empty collection tells nothing of cursors, and nothing is said of it.
    const empty: string[] = [];
    const client = fakeReadClient([]);
    await collect(createSource({ ...client, honoursCursors: async () => undefined }, { batchSize: 2, warn: (m) => empty.push(m) }).read({ collections: new Set(['y']), shard: { index: 0, count: 3 }, signal: signal() }));
    expect(empty).toEqual([]);
  });

  test('pulls documents only as chunks are consumed (backpressure)', async () => {
    const client = fakeReadClient(Array.from({ length: 100 }, (_, i) => `d${String(i).padStart(3, '0')}`));
    const iterator = sourceOn(client).read({ collections: new Set(['x']), signal: signal() })[Symbol.asyncIterator]();
    await iterator.next();
    await iterator.next();
    expect(client.pulled).toBeLessThanOrEqual(3);
    await iterator.return?.();
  });

  test('a store that cannot list still tells which collections it holds (those with a document), riding out UNAVAILABLE', async () => {
    let calls = 0;
    const flaky = async (collection: string) => {
      if (++calls <= 2) throw grpcError(14, 'UNAVAILABLE');
      return collection === 'users';
    };
    const source = createSource(fakeReadClient([], async () => Promise.reject(grpcError(12, 'UNIMPLEMENTED')), flaky), { batchSize: 2, retries: 3 });
    expect(await source.holding!(['agents', 'users'])).toEqual(['users']);
    const down = createSource(fakeReadClient([], undefined, async () => Promise.reject(grpcError(14, 'UNAVAILABLE'))), { batchSize: 2, retries: 1 });
    await expect(down.holding!(['users'])).rejects.toMatchObject({ kind: 'fatal', code: 'firestore-read-failed' });
  });

  test('lists collections sorted; UNIMPLEMENTED is "cannot list" (a run then reads the nine), other failures are fatal', async () => {
    expect(await sourceOn(fakeReadClient([])).listCollections()).toEqual(['a', 'b']);
    const unimplemented = sourceOn(fakeReadClient([], async () => Promise.reject(grpcError(12, 'UNIMPLEMENTED'))));
    expect(await unimplemented.listCollections()).toBeUndefined();
    const denied = sourceOn(fakeReadClient([], async () => Promise.reject(grpcError(7, 'PERMISSION_DENIED'))));
    await expect(denied.listCollections()).rejects.toMatchObject({ kind: 'fatal', code: 'firestore-list-failed' });
  });
});

describe('configuration', () => {
  const uri = (raw: string) => ({ scheme: 'firestore', rest: raw.replace(/^firestore:?/, ''), raw });

  test('project from the URI wins over FIRESTORE_PROJECT_ID', () => {
    expect(firestoreConfig(uri('firestore://from-uri'), { FIRESTORE_PROJECT_ID: 'from-env' }).projectId).toBe('from-uri');
    expect(firestoreConfig(uri('firestore'), { FIRESTORE_PROJECT_ID: 'from-env' }).projectId).toBe('from-env');
  });

  test('the emulator needs no credentials file', () => {
    const config = firestoreConfig(uri('firestore://p'), { FIRESTORE_EMULATOR_HOST: '127.0.0.1:1', GOOGLE_APPLICATION_CREDENTIALS: '/nonexistent' });
    expect(config).toEqual({ projectId: 'p', emulatorHost: '127.0.0.1:1', keyFilename: undefined });
  });

  test('a malformed URI is a usage error', () => {
    expect(() => firestoreConfig(uri('firestore://p/extra'), {})).toThrow(/not firestore:\/\/project-id/);
  });

  test('project: the URI, then GOOGLE_CLOUD_PROJECT, GCLOUD_PROJECT, the key file\'s project_id, FIRESTORE_PROJECT_ID', () => {
    const dir = mkdtempSync(join(tmpdir(), 'firestore-key-'));
    const keyFile = join(dir, 'key.json');
    writeFileSync(keyFile, JSON.stringify({ type: 'service_account', project_id: 'from-key' }));
    const all = { GOOGLE_CLOUD_PROJECT: 'gcp', GCLOUD_PROJECT: 'gcloud', GOOGLE_APPLICATION_CREDENTIALS: keyFile, FIRESTORE_PROJECT_ID: 'ours' };
    const project = (raw: string, env: NodeJS.ProcessEnv) => firestoreConfig(uri(raw), env).projectId;
    expect(project('firestore://from-uri', all)).toBe('from-uri');
    expect(project('firestore', all)).toBe('gcp');
    expect(project('firestore', { ...all, GOOGLE_CLOUD_PROJECT: '' })).toBe('gcloud');
    expect(project('firestore', { GOOGLE_APPLICATION_CREDENTIALS: keyFile, FIRESTORE_PROJECT_ID: 'ours' })).toBe('from-key');
    expect(project('firestore', { FIRESTORE_PROJECT_ID: 'ours' })).toBe('ours');
    // With an emulator the key file signs nothing in, but still names the project.
    expect(firestoreConfig(uri('firestore'), { FIRESTORE_EMULATOR_HOST: '127.0.0.1:1', GOOGLE_APPLICATION_CREDENTIALS: keyFile })).toEqual({
      projectId: 'from-key',
      emulatorHost: '127.0.0.1:1',
      keyFilename: undefined,
    });
  });

  test('FIRESTORE_PROJECT_ID that the app\'s variables override gets a line saying which project is used and how to choose it', () => {
    const lines: string[] = [];
    const warn = (m: string) => lines.push(m);
    expect(firestoreConfig(uri('firestore'), { GOOGLE_CLOUD_PROJECT: 'gcp', FIRESTORE_PROJECT_ID: 'ours' }, warn).projectId).toBe('gcp');
    expect(lines).toEqual(["Firestore: using project gcp, which the app's variables name, not FIRESTORE_PROJECT_ID=ours (write firestore://ours for that one)"]);
    // Nothing to say when they agree, when the URI chooses, or when ours is the only one.
    firestoreConfig(uri('firestore'), { GOOGLE_CLOUD_PROJECT: 'same', FIRESTORE_PROJECT_ID: 'same' }, warn);
    firestoreConfig(uri('firestore://chosen'), { GOOGLE_CLOUD_PROJECT: 'gcp', FIRESTORE_PROJECT_ID: 'ours' }, warn);
    firestoreConfig(uri('firestore'), { FIRESTORE_PROJECT_ID: 'ours' }, warn);
    expect(lines).toHaveLength(1);
  });

  test('no project anywhere: the error names every place a project can come from', () => {
    const error = (() => {
      try {
        firestoreConfig(uri('firestore'), { FIRESTORE_EMULATOR_HOST: '127.0.0.1:1' });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error).toMatchObject({ kind: 'usage', code: 'missing-firestore-project' });
    for (const name of ['GOOGLE_CLOUD_PROJECT', 'GCLOUD_PROJECT', 'GOOGLE_APPLICATION_CREDENTIALS', 'project_id', 'FIRESTORE_PROJECT_ID', 'firestore://project-id']) {
      expect(error!.message).toContain(name);
    }
  });
});
