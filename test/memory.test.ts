import { describe, expect, test } from 'vitest';
import { memoryStore, memoryWriter } from '../src/stores/memory/store.js';
import type { Doc, SourceChunk } from '../src/types.js';
import { uniquePrefix } from './corpus.js';
import memorySink from '../src/sinks/memory.js';
import memorySource from '../src/sources/memory.js';
import { describeConformance } from './conformance.js';
import { testAdapterOptions } from './helpers.js';

const uri = { scheme: 'memory', rest: 'conformance', raw: 'memory:conformance' };
describeConformance('memory', {
  sink: async (o) => memorySink(uri, testAdapterOptions(o)),
  source: async (o) => memorySource(uri, testAdapterOptions(o)),
});

describe('memory change feed', () => {
  /** The next `count` chunks of a feed. */
  async function take(chunks: AsyncIterator<SourceChunk>, count: number): Promise<SourceChunk[]> {
    const out: SourceChunk[] = [];
    for (let i = 0; i < count; i++) out.push((await chunks.next()).value as SourceChunk);
    return out;
  }

  test('from its head: puts and deletes in order, one collection and kind per chunk, with positions and lag; then it says it caught up and waits', async () => {
    const name = uniquePrefix();
    const writer = memoryWriter(name);
    writer.put('agents', { _id: 'before' });
    const source = memorySource({ scheme: 'memory', rest: name, raw: `memory:${name}` }, testAdapterOptions());
    const stop = new AbortController();
    const from = await source.feed!.head(['agents', 'users'], stop.signal);
    writer.put('agents', { _id: 'a1', n: 1 });
    writer.put('agents', { _id: 'a2', n: 2 });
    writer.delete('agents', 'a1');
    writer.put('tickets', { _id: 't1' });
    writer.put('users', { _id: 'u1' });
    const chunks = source.feed!.changes({ collections: new Set(['agents', 'users']), from, signal: stop.signal })[Symbol.asyncIterator]();
    const seq = from.seq as number;
    expect(await take(chunks, 3)).toEqual([
      { collection: 'agents', docs: [{ _id: 'a1', n: 1 }, { _id: 'a2', n: 2 }], position: { seq: seq + 2 }, lag: { changes: 3 }, caughtUp: false },
      { collection: 'agents', docs: [], deletes: ['a1'], position: { seq: seq + 3 }, lag: { changes: 2 }, caughtUp: false },
      { collection: 'users', docs: [{ _id: 'u1' }], position: { seq: seq + 5 }, lag: { changes: 0 }, caughtUp: true },
    ]);
    // Nothing waiting: the next chunk comes with the next change.
    const next = chunks.next();
    writer.delete('users', 'u1');
    expect((await next).value).toMatchObject({ collection: 'users', deletes: ['u1'], caughtUp: true });
    const waiting = chunks.next();
    stop.abort();
    await expect(waiting).rejects.toThrow(/abort/i);
  });

  test('the sink removes by _id (an absent one counts as removed) and logs what it writes, so a memory target can be followed too', async () => {
    const name = uniquePrefix();
    const sink = memorySink({ scheme: 'memory', rest: name, raw: `memory:${name}` }, testAdapterOptions());
    const source = memorySource({ scheme: 'memory', rest: name, raw: `memory:${name}` }, testAdapterOptions());
    const stop = new AbortController();
    const from = await source.feed!.head(['agents'], stop.signal);
    await sink.prepare('agents');
    await sink.write('agents', [{ _id: 'a' }, { _id: 'b' }], stop.signal);
    expect(await sink.remove!('agents', ['a', 'never'], stop.signal)).toEqual([{ status: 'written' }, { status: 'written' }]);
    expect([...memoryStore(name).get('agents')!.keys()]).toEqual(['b']);
    const chunks = source.feed!.changes({ collections: new Set(['agents']), from, signal: stop.signal })[Symbol.asyncIterator]();
    expect((await take(chunks, 2)).map((c) => c.deletes ?? c.docs.map((d) => (d as Doc)._id))).toEqual([['a', 'b'], ['a', 'never']]);
    stop.abort();
  });

  test('changes made before anyone followed are not kept: following from before its first head is refused with a line', async () => {
    const name = uniquePrefix();
    memoryWriter(name).put('agents', { _id: 'a' });
    const source = memorySource({ scheme: 'memory', rest: name, raw: `memory:${name}` }, testAdapterOptions());
    const stop = new AbortController();
    await source.feed!.head(['agents'], stop.signal);
    const chunks = source.feed!.changes({ collections: new Set(['agents']), from: { seq: 0 }, signal: stop.signal })[Symbol.asyncIterator]();
    await expect(chunks.next()).rejects.toThrow(`memory:${name} keeps its changes only from the first follow in this process (from change 1), not from change 0`);
  });
});
