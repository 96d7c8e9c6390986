/** The Firestore change feed's bookkeeping on a fake listener: positions, compaction, errors, stopping. */
import { describe, expect, test } from 'vitest';
import { createSource } from '../src/sources/firestore.js';
import type { FirestoreChange, FirestoreReader, FirestoreSnapshot } from '../src/stores/firestore/client.js';
import type { SourceChunk } from '../src/types.js';
import { failure } from './helpers.js';

const t = (seconds: number) => ({ seconds, nanoseconds: 0 });
const iso = (seconds: number) => new Date(seconds * 1000).toISOString();
const put = (id: string, v: number, at = 1): FirestoreChange => ({ kind: 'put', id, updateTime: t(at), data: () => ({ v }) });
const del = (id: string): FirestoreChange => ({ kind: 'delete', id });

/** A client whose listeners the test drives: `emit` hands a snapshot to a collection's listener. */
function fakeListenClient() {
  const listeners = new Map<string, { onSnapshot: (s: FirestoreSnapshot) => void; onError: (e: unknown) => void }>();
  let unsubscribed = 0;
  let reads = 0;
  const client: FirestoreReader = {
    label: 'firestore://fake',
    identity: 'firestore://fake',
    where: 'project fake',
    listCollections: async () => [],
    hasDocuments: async () => true,
    count: async () => 0,
    async *documents() {
      reads++;
    },
    documentsById: async () => [],
    ids: async () => [],
    honoursCursors: async () => true,
    listen(collection, onSnapshot, onError) {
      listeners.set(collection, { onSnapshot, onError });
      return () => {
        unsubscribed++;
        listeners.delete(collection);
      };
    },
    close: async () => {},
  };
  return {
    client,
    emit: (collection: string, readTime: number, changes: FirestoreChange[]) => listeners.get(collection)!.onSnapshot({ readTime: t(readTime), changes }),
    fail: (collection: string, error: unknown) => listeners.get(collection)!.onError(error),
    listening: () => [...listeners.keys()],
    unsubscribed: () => unsubscribed,
    reads: () => reads,
  };
}

async function take(changes: AsyncIterator<SourceChunk>, n: number): Promise<SourceChunk[]> {
  const chunks: SourceChunk[] = [];
  while (chunks.length < n) chunks.push((await changes.next()).value as SourceChunk);
  return chunks;
}

/** A source on the fake, its head taken at readTime 10 with documents a and b. */
async function followed(batchSize = 500) {
  const fake = fakeListenClient();
  const source = createSource(fake.client, { batchSize });
  const stop = new AbortController();
  const head = source.feed!.head(['x'], stop.signal);
  fake.emit('x', 10, [put('a', 0), put('b', 0)]);
  const from = await head;
  const changes = source.feed!.changes({ collections: new Set(['x']), from, signal: stop.signal })[Symbol.asyncIterator]();
  return { fake, source, stop, from, changes };
}

describe('firestore change feed bookkeeping', () => {
  test('head is the first snapshot\'s readTime, and its documents are not delivered again', async () => {
    const { from, changes, stop } = await followed();
    expect(from).toEqual({ listen: { x: iso(10) } });
    expect(await take(changes, 1)).toEqual([{ collection: 'x', docs: [], position: from, lag: { changes: 0, seconds: 0 }, caughtUp: true }]);
    stop.abort();
  });

  test('after head, the snapshot read takes the listener\'s first snapshot, in id order, instead of reading again', async () => {
    const fake = fakeListenClient();
    const source = createSource(fake.client, { batchSize: 2 });
    const stop = new AbortController();
    const head = source.feed!.head(['x'], stop.signal);
    fake.emit('x', 10, [put('é', 0), put('b', 0), put('z', 0), put('a', 0)]);
    await head;
    // A change after the head is the feed's to deliver, not the snapshot's.
    fake.emit('x', 11, [put('b', 1, 11)]);
    const read = async () => {
      const chunks: SourceChunk[] = [];
      for await (const chunk of source.read({ collections: new Set(['x']), signal: stop.signal })) chunks.push(chunk);
      return chunks;
    };
    const chunks = await read();
    expect(chunks.map((c) => c.docs)).toEqual([[], [{ _id: 'a', v: 0 }, { _id: 'b', v: 0 }], [{ _id: 'z', v: 0 }, { _id: 'é', v: 0 }]]);
    expect(chunks.at(-1)!.position).toEqual({ collection: 'x', lastId: 'é' });
    expect(fake.reads()).toBe(0);
    // Taken once: a second read asks the store.
    await read();
    expect(fake.reads()).toBe(1);
    stop.abort();
  });

  test('a position never claims a change still waiting', async () => {
    const { fake, changes, stop } = await followed(1);
    await take(changes, 1);
    fake.emit('x', 11, [put('a', 1, 11), put('c', 1, 11)]);
    fake.emit('x', 12, [put('d', 1, 12)]);
    const chunks = await take(changes, 3);
    expect(chunks.map((c) => c.docs)).toEqual([[{ _id: 'a', v: 1 }], [{ _id: 'c', v: 1 }], [{ _id: 'd', v: 1 }]]);
    // After a, c (readTime 11) still waits: only readTime 10 is delivered whole; after c, 11; after d, 12.
    expect(chunks.map((c) => (c.position!.listen as Record<string, string>).x)).toEqual([iso(10), iso(11), iso(12)]);
    expect(chunks.map((c) => c.caughtUp)).toEqual([false, false, true]);
    expect(chunks.map((c) => c.lag!.changes)).toEqual([2, 1, 0]);
    // d was made at 12 and the head is 12; a at 11.
    expect(chunks.map((c) => c.lag!.seconds)).toEqual([1, 1, 0]);
    stop.abort();
  });

  test('changes waiting for the same id are delivered once, the latest; a put then a delete is a delete', async () => {
    const { fake, changes, stop } = await followed();
    await take(changes, 1);
    fake.emit('x', 11, [put('a', 1, 11), put('b', 1, 11)]);
    fake.emit('x', 12, [put('a', 2, 12), del('b')]);
    fake.emit('x', 13, [put('a', 3, 13)]);
    const chunks = await take(changes, 2);
    expect(chunks.map((c) => [c.docs, c.deletes])).toEqual([
      [[], ['b']],
      [[{ _id: 'a', v: 3 }], undefined],
    ]);
    expect(chunks[1]!.position).toEqual({ listen: { x: iso(13) } });
    stop.abort();
  });

  test('a listener\'s error ends the feed with one line naming the collection, secrets redacted, listeners stopped', async () => {
    const { fake, changes } = await followed();
    await take(changes, 1);
    const next = changes.next();
    fake.fail('x', Object.assign(new Error('7 PERMISSION_DENIED: Missing or insufficient permissions. https://admin:s3cret@proxy'), { code: 7 }));
    const error = await failure(() => next);
    expect(error).toMatchObject({ kind: 'fatal', code: 'firestore-read-failed' });
    expect(error.message).toMatch(/^cannot follow firestore:\/\/fake collection x: 7 PERMISSION_DENIED/);
    expect(error.message).not.toMatch(/s3cret|\n/);
    expect(fake.listening()).toEqual([]);
  });

  test('closing the source stops the listeners a head started', async () => {
    const fake = fakeListenClient();
    const source = createSource(fake.client, {});
    const head = source.feed!.head(['x', 'y'], new AbortController().signal);
    fake.emit('x', 10, []);
    fake.emit('y', 10, []);
    expect(await head).toEqual({ listen: { x: iso(10), y: iso(10) } });
    await source.close();
    expect(fake.unsubscribed()).toBe(2);
  });

  test('a run stopped during the snapshot read stops the listeners its head started', async () => {
    const fake = fakeListenClient();
    const source = createSource(fake.client, {});
    const stop = new AbortController();
    const head = source.feed!.head(['x'], stop.signal);
    fake.emit('x', 10, []);
    await head;
    stop.abort();
    expect(fake.listening()).toEqual([]);
  });

  test('a restart puts what was written after the position, deletes what the target holds and the source does not', async () => {
    const fake = fakeListenClient();
    const source = createSource(fake.client, {});
    const stop = new AbortController();
    const held = async function* () {
      yield ['old', 'gone'];
      yield ['recreated', 'new'];
    };
    const changes = source.feed!.changes({ collections: new Set(['x']), from: { listen: { x: iso(10) } }, signal: stop.signal, held })[Symbol.asyncIterator]();
    const first = changes.next();
    // The whole collection: `old` unchanged since 10, `new` written at 12.
    fake.emit('x', 20, [put('old', 0, 9), put('new', 1, 12), put('recreated', 1, 10)]);
    const chunks = [(await first).value as SourceChunk, ...(await take(changes, 1))];
    expect(chunks.map((c) => [c.docs, c.deletes])).toEqual([
      [[{ _id: 'new', v: 1 }], undefined],
      [[], ['gone']],
    ]);
    // Until the last of the restart's changes is delivered, the position stays where it was.
    expect(chunks.map((c) => (c.position!.listen as Record<string, string>).x)).toEqual([iso(10), iso(20)]);
    stop.abort();
  });
});
