/**
 * Shards on each database store's native split points, against the real servers (global setup):
 * COUNT shards read at the same time read every document exactly once, none empty, and a shard
 * resumed from a position inside its share reads the rest of it exactly.
 */
import { describe, expect, inject, test } from 'vitest';
import couchdbSink from '../src/sinks/couchdb.js';
import dynamodbSink from '../src/sinks/dynamodb.js';
import couchdbSource from '../src/sources/couchdb.js';
import dynamodbSource from '../src/sources/dynamodb.js';
import firestoreSink from '../src/sinks/firestore.js';
import firestoreSource from '../src/sources/firestore.js';
import { openFirestoreClient } from '../src/stores/firestore/client.js';
import { firestoreConfig } from '../src/stores/firestore/config.js';
import type { AdapterOptions, Doc, Position, Shard, Sink, Source } from '../src/types.js';
import { uniquePrefix } from './corpus.js';
import { failure, testAdapterOptions } from './helpers.js';
import { basicAuthorization } from './servers/couchdb.js';
import { expectExactShares, gofannonIds } from './shard-ids.js';

const signal = () => new AbortController().signal;

interface Store {
  source(options?: Partial<AdapterOptions>): Promise<Source>;
  sink(): Promise<Sink>;
}

async function fill(store: Store, collection: string, ids: string[]): Promise<void> {
  const sink = await store.sink();
  await sink.prepare(collection);
  for (let i = 0; i < ids.length; i += 100) {
    const docs: Doc[] = ids.slice(i, i + 100).map((_id, n) => ({ _id, n: i + n, name: `doc ${i + n}` }));
    const outcomes = await sink.write(collection, docs, signal());
    expect(outcomes.filter((o) => o.status !== 'written')).toEqual([]);
  }
  await sink.close(true);
}

/** The ids one shard reads, and the position after each chunk that carried documents. */
async function readShard(store: Store, collection: string, shard: Shard | undefined, o: Partial<AdapterOptions> = {}, resumeFrom?: Position, afterFirst?: () => Promise<void>) {
  const source = await store.source(o);
  const ids: string[] = [];
  const positions: { read: number; position: Position }[] = [];
  try {
    for await (const chunk of source.read({ collections: new Set([collection]), signal: signal(), ...(shard ? { shard } : {}), ...(resumeFrom ? { resumeFrom } : {}) })) {
      ids.push(...(chunk.docs as Doc[]).map((d) => d._id as string));
      if (chunk.docs.length > 0 && chunk.position) positions.push({ read: ids.length, position: chunk.position });
      if (chunk.docs.length > 0 && positions.length === 1) await afterFirst?.();
    }
  } finally {
    await source.close();
  }
  return { ids, positions };
}

/** What every store that splits must do. `order` sorts the ids before they are written. */
function describeShards(name: string, store: Store, splits: string, sourceOptions: Partial<AdapterOptions> = {}, order?: (ids: string[]) => string[]) {
  describe(`${name} shards`, () => {
    const collection = `${uniquePrefix()}_shards`;
    const all = order ? order(gofannonIds(240)) : gofannonIds(240);
    let filled: Promise<void> | undefined;
    const ready = () => (filled ??= fill(store, collection, all));

    test('names its split', async () => {
      expect((await store.source()).splits).toBe(splits);
    });

    for (const count of [1, 3, 4]) {
      test(`${count} shards read at the same time read every document exactly once, none empty`, async () => {
        await ready();
        const shares = await Promise.all(Array.from({ length: count }, (_, index) => readShard(store, collection, { index, count }, sourceOptions)));
        expectExactShares(
          shares.map((s) => s.ids),
          all,
        );
      });
    }

    test('documents created while 3 shards read: each present throughout is read once, none twice', async () => {
      // A collection of its own: the emulator would stream the late documents out of id order, which resuming relies on.
      const churned = `${collection}_churn`;
      await fill(store, churned, all);
      const created = gofannonIds(100);
      // Each shard stops after its first chunk; once all three have, the documents are created, then they go on.
      let arrived = 0;
      let allArrived!: () => void;
      const arrivedAll = new Promise<void>((resolve) => (allArrived = resolve));
      const writing = arrivedAll.then(async () => {
        const sink = await store.sink();
        for (let i = 0; i < created.length; i += 10) {
          const outcomes = await sink.write(churned, created.slice(i, i + 10).map((_id) => ({ _id, late: true })), signal());
          expect(outcomes.every((o) => o.status === 'written')).toBe(true);
        }
        await sink.close(true);
      });
      const gate = async () => {
        if (++arrived === 3) allArrived();
        await writing;
      };
      const shares = await Promise.all([0, 1, 2].map((index) => readShard(store, churned, { index, count: 3 }, { ...sourceOptions, batchSize: 10 }, undefined, gate)));
      const seen = shares.flatMap((s) => s.ids);
      expect(new Set(seen).size).toBe(seen.length);
      expect(all.filter((id) => !seen.includes(id))).toEqual([]);
      expect(seen.filter((id) => !all.includes(id) && !created.includes(id))).toEqual([]);
    });

    test('a shard resumed from a position inside its share reads the rest of it exactly', async () => {
      await ready();
      const shard = { index: 1, count: 3 };
      const whole = await readShard(store, collection, shard, { ...sourceOptions, batchSize: 10 });
      expect(whole.positions.length).toBeGreaterThan(3);
      const cut = whole.positions[2]!;
      const rest = await readShard(store, collection, shard, { ...sourceOptions, batchSize: 10 }, cut.position);
      expect([...whole.ids.slice(0, cut.read), ...rest.ids].sort()).toEqual([...whole.ids].sort());
    });
  });
}

const dynamoUrl = inject('dynamodbUrl');
const dynamoUri = { scheme: 'dynamodb', rest: dynamoUrl.replace(/^http:/, ''), raw: dynamoUrl.replace(/^http:/, 'dynamodb:') };
const dynamo: Store = {
  source: async (o) => dynamodbSource(dynamoUri, testAdapterOptions(o)),
  sink: async () => dynamodbSink(dynamoUri, testAdapterOptions()),
};
describeShards('dynamodb', dynamo, 'parallel scan segments');
describeShards('dynamodb with 3 --segments in each shard', dynamo, 'parallel scan segments', { segments: 3 });

describe('dynamodb shard segments', () => {
  test('shard k of N with --segments S scans segments k*S .. k*S+S-1 of N*S, and says so in its position', async () => {
    const collection = `${uniquePrefix()}_segments`;
    await fill(dynamo, collection, gofannonIds(30));
    const { positions } = await readShard(dynamo, collection, { index: 2, count: 4 }, { segments: 3 });
    const last = positions.at(-1)!.position as { totalSegments: number; segments: { segment: number }[] };
    expect(last.totalSegments).toBe(12);
    expect(last.segments.map((s) => s.segment)).toEqual([6, 7, 8]);
  });

  test("a checkpoint of another shard's segments is refused, naming them", async () => {
    const collection = `${uniquePrefix()}_mismatch`;
    await fill(dynamo, collection, gofannonIds(30));
    const { positions } = await readShard(dynamo, collection, { index: 0, count: 3 }, { batchSize: 5 });
    const position = positions[0]!.position;
    const error = await failure(() => readShard(dynamo, collection, { index: 1, count: 3 }, {}, position));
    expect(error.code).toBe('checkpoint-mismatch');
    expect(error.message).toMatch(/segments 0\.\.0 of 3 of table \S+_mismatch, which are not shard 1\/3's/);
    // Without a shard, a shard's checkpoint is refused the same way.
    await expect(readShard(dynamo, collection, undefined, {}, position)).rejects.toThrow(/not shard 0\/1's/);
  });

  test('a checkpoint written before shards (segments without numbers) still resumes', async () => {
    const collection = `${uniquePrefix()}_old`;
    const ids = gofannonIds(40);
    await fill(dynamo, collection, ids);
    const fresh = { collection, segments: [{ lastKey: null, done: false }, { lastKey: null, done: false }] } as unknown as Position;
    const { ids: read } = await readShard(dynamo, collection, undefined, {}, fresh);
    expect(read.sort()).toEqual([...ids].sort());
  });
});

const couchUrl = inject('couchdbAuthUrl');
const couchUri = { scheme: 'couchdb', rest: couchUrl.replace(/^http:/, ''), raw: couchUrl.replace(/^http:/, 'couchdb:') };
const couch: Store = {
  source: async (o) => couchdbSource(couchUri, testAdapterOptions(o)),
  sink: async () => couchdbSink(couchUri, testAdapterOptions()),
};
describeShards('couchdb', couch, '_all_docs keys, hashed');
describeShards('couchdb, pages of 7', couch, '_all_docs keys, hashed', { batchSize: 7 });

describe('couchdb shards', () => {
  test('design documents are skipped by every shard, or read by exactly one with --include-design', async () => {
    const collection = `${uniquePrefix()}_design`;
    const ids = gofannonIds(60);
    await fill(couch, collection, ids);
    const put = await fetch(`${inject('couchdbUrl')}/${collection}/_design/app`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: basicAuthorization() },
      body: JSON.stringify({ views: {} }),
    });
    expect(put.status).toBe(201);
    const without = await Promise.all([0, 1, 2].map((index) => readShard(couch, collection, { index, count: 3 })));
    expectExactShares(
      without.map((s) => s.ids),
      ids,
    );
    const withDesign = await Promise.all([0, 1, 2].map((index) => readShard(couch, collection, { index, count: 3 }, { includeDesign: true })));
    expectExactShares(
      withDesign.map((s) => s.ids),
      [...ids, '_design/app'],
    );
  });
});

const firestoreEnv = { FIRESTORE_EMULATOR_HOST: inject('firestoreHost'), FIRESTORE_PROJECT_ID: `etl-shards-${uniquePrefix()}` };
const firestoreUri = { scheme: 'firestore', rest: '', raw: 'firestore' };
const firestore: Store = {
  source: async (o) => firestoreSource(firestoreUri, testAdapterOptions({ env: firestoreEnv, ...o })),
  sink: async () => firestoreSink(firestoreUri, testAdapterOptions({ env: firestoreEnv })),
};
// The emulator streams a collection in the order its documents were written, not by id, and
// resuming relies on id order (as Firestore keeps it): so the ids are written in Firestore's order.
const utf8Order = (ids: string[]) => [...ids].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
describeShards('firestore emulator', firestore, 'document ids, hashed', {}, utf8Order);

describe('firestore emulator shards', () => {
  test('the emulator ignores cursors: a shard says once that it reads each collection whole, and keeps only its own', async () => {
    const collection = `${uniquePrefix()}_whole`;
    const ids = gofannonIds(30);
    await fill(firestore, collection, ids);
    const warnings: string[] = [];
    const { ids: read } = await readShard(firestore, collection, { index: 1, count: 3 }, { warn: (m) => warnings.push(m) });
    expect(warnings).toEqual([expect.stringMatching(/^firestore:\/\/\S+ \(emulator \S+\) ignores query cursors \(as the community emulator does\): shard 1\/3 reads each collection whole and keeps its own documents$/)]);
    expect(read.length).toBeGreaterThan(0);
    expect(read.length).toBeLessThan(ids.length);
  });
});

describe('firestore client calls a shard makes, on the emulator', () => {
  test('documents by id come in the order asked, those absent left out; cursors are judged ignored, or not at all on an empty collection', async () => {
    const collection = `${uniquePrefix()}_byid`;
    await fill(firestore, collection, ['b', 'a', 'c']);
    const client = await openFirestoreClient(firestoreConfig(firestoreUri, firestoreEnv, () => {}), () => {});
    try {
      expect((await client.documentsById(collection, ['c', 'missing', 'a'])).map((d) => [d.id, d.data.n])).toEqual([
        ['c', 2],
        ['a', 1],
      ]);
      expect(await client.honoursCursors(collection)).toBe(false);
      expect(await client.honoursCursors(`${collection}_empty`)).toBeUndefined();
    } finally {
      await client.close();
    }
  });
});
