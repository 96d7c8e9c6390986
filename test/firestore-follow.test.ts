/** The Firestore change feed (snapshot listeners) and deletes, against the emulator (test/global-setup.ts). */
import { Firestore } from '@google-cloud/firestore';
import { afterAll, describe, expect, inject, test } from 'vitest';
import firestoreSink from '../src/sinks/firestore.js';
import firestoreSource from '../src/sources/firestore.js';
import type { Doc, JsonValue, Position, Sink, Source, SourceChunk } from '../src/types.js';
import { uniquePrefix } from './corpus.js';
import { failure, testAdapterOptions } from './helpers.js';

const host = inject('firestoreHost');
const projectId = `etl-follow-${uniquePrefix()}`;
const env = { FIRESTORE_EMULATOR_HOST: host, FIRESTORE_PROJECT_ID: projectId };
const uri = { scheme: 'firestore', rest: '', raw: 'firestore' };
const options = (batchSize?: number) => testAdapterOptions({ env, ...(batchSize ? { batchSize } : {}) });

const raw = new Firestore({ projectId, host, ssl: false, useBigInt: true, universeDomain: 'googleapis.com' });
afterAll(() => raw.terminate());

const opened: { close(complete?: boolean): Promise<void> }[] = [];
afterAll(() => Promise.all(opened.map((o) => o.close(true))));
async function source(batchSize?: number): Promise<Source> {
  const s = await firestoreSource(uri, options(batchSize));
  opened.push(s);
  return s;
}
async function sink(): Promise<Sink> {
  const s = await firestoreSink(uri, options());
  opened.push(s);
  return s;
}

async function seed(collection: string, docs: Record<string, { [key: string]: unknown }>) {
  const batch = raw.batch();
  for (const [id, data] of Object.entries(docs)) batch.set(raw.collection(collection).doc(id), data);
  await batch.commit();
}

/** What the source holds now, as the feed's documents look. */
async function sourceState(collection: string): Promise<Map<string, Doc>> {
  const s = await source();
  const state = new Map<string, Doc>();
  for await (const chunk of s.read({ collections: new Set([collection]), signal: new AbortController().signal })) {
    for (const doc of chunk.docs as Doc[]) state.set(doc._id as string, doc);
  }
  return state;
}

/** A target kept in memory: chunks applied in order, and every chunk seen. */
class Target {
  readonly docs = new Map<string, Doc>();
  readonly chunks: SourceChunk[] = [];
  apply(chunk: SourceChunk): void {
    this.chunks.push(chunk);
    for (const doc of chunk.docs as Doc[]) this.docs.set(doc._id as string, doc);
    for (const id of chunk.deletes ?? []) this.docs.delete(id);
  }
  /** What `held` answers: the ids the target holds. */
  held = async function* (this: Target): AsyncIterable<string[]> {
    yield [...this.docs.keys()];
  }.bind(this);
  /** Each put of this id, in the order delivered. */
  putsOf(id: string): Doc[] {
    return this.chunks.flatMap((c) => (c.docs as Doc[]).filter((d) => d._id === id));
  }
}

/**
 * Applies the feed's chunks to the target until it is caught up and `done` holds (the gate), and
 * answers the last chunk's position. The iterator stays open for more.
 */
async function applyUntil(changes: AsyncIterator<SourceChunk>, target: Target, done: () => boolean): Promise<Position> {
  for (;;) {
    const next = await changes.next();
    if (next.done) throw new Error('the feed ended');
    target.apply(next.value);
    if (next.value.caughtUp && done()) return next.value.position!;
  }
}

const sameAs = (expected: Map<string, Doc>) => (target: Target) => () =>
  JSON.stringify([...target.docs].sort()) === JSON.stringify([...expected].sort());

// A feed that misses a change waits for it forever: a short timeout makes that a quick failure.
describe('firestore change feed', { timeout: 15_000 }, () => {
  test('after head, creates, updates and deletes are delivered: puts in order per document, deletes as deletes', async () => {
    const collection = `${uniquePrefix()}_feed`;
    await seed(collection, { a: { v: 0 }, b: { v: 0 }, keep: { v: 0 } });
    const s = await source();
    const stop = new AbortController();
    const from = await s.feed!.head([collection], stop.signal);
    expect(Object.keys(from.listen as object)).toEqual([collection]);

    const target = new Target();
    for await (const chunk of s.read({ collections: new Set([collection]), signal: stop.signal })) target.apply(chunk);
    const changes = s.feed!.changes({ collections: new Set([collection]), from, signal: stop.signal })[Symbol.asyncIterator]();

    for (let v = 1; v <= 5; v++) await raw.collection(collection).doc('a').set({ v });
    await raw.collection(collection).doc('b').delete();
    await raw.collection(collection).doc('c').set({ v: 1, at: new Date('2026-01-11T10:00:00.123Z'), big: 12345678901234n });
    await applyUntil(changes, target, sameAs(await sourceState(collection))(target));

    expect(target.docs.get('a')).toEqual({ _id: 'a', v: 5 });
    expect(target.docs.has('b')).toBe(false);
    // Decoded as the snapshot read decodes: timestamps as RFC 3339 text, integers exact.
    expect(target.docs.get('c')).toEqual({ _id: 'c', v: 1, at: '2026-01-11T10:00:00.123Z', big: 12345678901234 });
    const versions = target.putsOf('a').map((d) => d.v as number);
    expect(versions.at(-1)).toBe(5);
    expect(versions).toEqual([...versions].sort((x, y) => x - y));
    const feedChunks = target.chunks.filter((c) => c.lag);
    expect(feedChunks.flatMap((c) => c.deletes ?? [])).toEqual(['b']);
    expect(feedChunks.every((c) => c.docs.length === 0 || !c.deletes)).toBe(true);
    // Nothing was written to `keep` after head: it is never sent again.
    expect(target.putsOf('keep')).toHaveLength(1);
    for (const chunk of feedChunks) expect(chunk.lag).toMatchObject({ changes: expect.any(Number), seconds: expect.any(Number) });
    expect(feedChunks.at(-1)!.lag!.changes).toBe(0);
    stop.abort();
  });

  test('with nothing to deliver, the feed says at once that it is caught up', async () => {
    const collection = `${uniquePrefix()}_idle`;
    await seed(collection, { a: { v: 1 } });
    const s = await source();
    const stop = new AbortController();
    const from = await s.feed!.head([collection], stop.signal);
    const first = await s.feed!.changes({ collections: new Set([collection]), from, signal: stop.signal })[Symbol.asyncIterator]().next();
    expect(first.value).toMatchObject({ collection, docs: [], caughtUp: true, lag: { changes: 0, seconds: 0 }, position: from });
    stop.abort();
  });

  test('changes made during the snapshot read are delivered, deletes of documents it already read included', async () => {
    const collection = `${uniquePrefix()}_during`;
    await seed(collection, { a: { v: 0 }, b: { v: 0 }, c: { v: 0 }, d: { v: 0 } });
    const s = await source(1);
    const stop = new AbortController();
    const from = await s.feed!.head([collection], stop.signal);

    const target = new Target();
    const snapshot = s.read({ collections: new Set([collection]), signal: stop.signal })[Symbol.asyncIterator]();
    // Read up to `b`, then change the source: the read has seen a and b, not c and d.
    for (;;) {
      const next = await snapshot.next();
      target.apply(next.value as SourceChunk);
      if (target.docs.has('b')) break;
    }
    await raw.collection(collection).doc('a').delete();
    await raw.collection(collection).doc('b').set({ v: 1 });
    await raw.collection(collection).doc('c').delete();
    await raw.collection(collection).doc('e').set({ v: 1 });
    for (let next = await snapshot.next(); !next.done; next = await snapshot.next()) target.apply(next.value);

    const changes = s.feed!.changes({ collections: new Set([collection]), from, signal: stop.signal })[Symbol.asyncIterator]();
    const expected = await sourceState(collection);
    expect([...expected.keys()].sort()).toEqual(['b', 'd', 'e']);
    await applyUntil(changes, target, sameAs(expected)(target));
    expect(target.docs.get('b')).toEqual({ _id: 'b', v: 1 });
    stop.abort();
  });

  test('resumed in a new process, it puts what changed while stopped and deletes what was deleted, and nothing else', async () => {
    const collection = `${uniquePrefix()}_resume`;
    await seed(collection, { gone: { v: 0 }, changed: { v: 0 }, same: { v: 0 } });
    const first = await source();
    const stop = new AbortController();
    const head = await first.feed!.head([collection], stop.signal);
    const target = new Target();
    for await (const chunk of first.read({ collections: new Set([collection]), signal: stop.signal })) target.apply(chunk);
    const changes = first.feed!.changes({ collections: new Set([collection]), from: head, signal: stop.signal })[Symbol.asyncIterator]();
    await raw.collection(collection).doc('changed').set({ v: 1 });
    const saved = await applyUntil(changes, target, () => target.docs.get('changed')?.v === 1);
    stop.abort();
    await expect(changes.next()).rejects.toMatchObject({ name: 'AbortError' });
    await first.close();

    // While no one listens: a delete, an update, a create.
    await raw.collection(collection).doc('gone').delete();
    await raw.collection(collection).doc('changed').set({ v: 2 });
    await raw.collection(collection).doc('new').set({ v: 2 });

    const second = await source();
    const restart = new AbortController();
    const resumed = second.feed!.changes({ collections: new Set([collection]), from: saved, signal: restart.signal, held: target.held })[Symbol.asyncIterator]();
    const before = target.chunks.length;
    await applyUntil(resumed, target, sameAs(await sourceState(collection))(target));
    const after = target.chunks.slice(before);
    expect(after.flatMap((c) => c.deletes ?? [])).toEqual(['gone']);
    // `same` was not written since the saved position: it is read (billed) but not put again.
    expect(after.flatMap((c) => (c.docs as Doc[]).map((d) => d._id)).sort()).toEqual(['changed', 'new']);
    restart.abort();
  });

  test('resuming for a target that cannot list its ids is refused with the reason', async () => {
    const collection = `${uniquePrefix()}_noheld`;
    const s = await source();
    const from = { listen: { [collection]: '2026-01-11T10:00:00.000Z' } };
    const error = await failure(async () => {
      for await (const chunk of s.feed!.changes({ collections: new Set([collection]), from, signal: new AbortController().signal })) void chunk;
    });
    expect(error).toMatchObject({ kind: 'usage', code: 'cannot-resume' });
    expect(error.message).toMatch(/keeps no log of deletes.*cannot list them.*without --resume/);
  });

  test('a position another store wrote is refused, not read as "from the beginning"', async () => {
    const s = await source();
    const error = await failure(async () => {
      const changes = s.feed!.changes({ collections: new Set(['x']), from: { seq: '12-abc' }, signal: new AbortController().signal, held: async function* () {} });
      for await (const chunk of changes) void chunk;
    });
    expect(error).toMatchObject({ kind: 'usage', code: 'bad-resume' });
  });

  test('aborting ends a waiting feed promptly', async () => {
    const collection = `${uniquePrefix()}_abort`;
    await seed(collection, { a: { v: 1 } });
    const s = await source();
    const stop = new AbortController();
    const from = await s.feed!.head([collection], stop.signal);
    const changes = s.feed!.changes({ collections: new Set([collection]), from, signal: stop.signal })[Symbol.asyncIterator]();
    expect((await changes.next()).value).toMatchObject({ caughtUp: true });
    const waiting = changes.next();
    stop.abort();
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
    // Ended for good: later writes are not delivered.
    await raw.collection(collection).doc('b').set({ v: 1 });
    expect(await changes.next()).toEqual({ done: true, value: undefined });
  });
});

describe('firestore remove and ids', () => {
  test('removes documents in batches; absent ones and ids Firestore cannot hold count as removed', async () => {
    const collection = `${uniquePrefix()}_remove`;
    const ids = Array.from({ length: 1203 }, (_, i) => `d${String(i).padStart(5, '0')}`);
    const docs: Record<string, { [key: string]: JsonValue }> = Object.fromEntries(ids.slice(0, 400).map((id) => [id, { v: 1 }]));
    await seed(collection, docs);
    await seed(collection, Object.fromEntries(ids.slice(400, 800).map((id) => [id, { v: 1 }])));
    await seed(collection, Object.fromEntries(ids.slice(800).map((id) => [id, { v: 1 }])));
    await raw.collection(collection).doc('kept').set({ v: 1 });
    const target = await sink();

    const listed = [];
    for await (const batch of target.ids!(collection, new AbortController().signal)) {
      expect(batch.length).toBeLessThanOrEqual(500);
      listed.push(...batch);
    }
    expect(listed.sort()).toEqual([...ids, 'kept'].sort());

    const outcomes = await target.remove!(collection, [...ids, 'never-there', 'a/b', '__x__'], new AbortController().signal);
    expect(outcomes).toHaveLength(ids.length + 3);
    expect(outcomes.every((o) => o.status === 'written')).toBe(true);
    const left = await raw.collection(collection).get();
    expect(left.docs.map((d) => d.id)).toEqual(['kept']);
  });

  test('ids of a collection with no documents: none', async () => {
    const target = await sink();
    const batches = [];
    for await (const batch of target.ids!(`${uniquePrefix()}_empty`, new AbortController().signal)) batches.push(batch);
    expect(batches).toEqual([]);
  });

  test('a remove after the run stopped does nothing', async () => {
    const collection = `${uniquePrefix()}_stopped`;
    await raw.collection(collection).doc('a').set({ v: 1 });
    const stop = new AbortController();
    stop.abort();
    await expect((await sink()).remove!(collection, ['a'], stop.signal)).rejects.toMatchObject({ name: 'AbortError' });
    expect((await raw.collection(collection).doc('a').get()).exists).toBe(true);
  });
});
