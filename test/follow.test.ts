/**
 * The engine of `--follow`, through migrate() on the memory store (its change log is the feed):
 * the snapshot then the changes, deletes applied, --until-caught-up, stopping (a follow's normal
 * end), resuming from its checkpoint mid-snapshot and after it, the changes applied again after a
 * crash; and changes to one `_id` landing in source order with batches in flight (a fake sink that
 * answers out of order under gates). Every wait is a gate, never a sleep.
 */
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, onTestFinished, test, vi } from 'vitest';
import { migrate, type MigrateOptions } from '../src/pipeline.js';
import { BatchWriter } from '../src/pipeline/batch-writer.js';
import { Checkpointer, type CheckpointData } from '../src/pipeline/checkpoint.js';
import { DeadLetters } from '../src/pipeline/dead-letter.js';
import { RunStats } from '../src/pipeline/stats.js';
import { adapterOptions } from '../src/pipeline/store-options.js';
import { createSink } from '../src/sinks/memory.js';
import { createSource } from '../src/sources/memory.js';
import { memoryStore, memoryWriter, openMemory } from '../src/stores/memory/store.js';
import type { ChangeFeed, Doc, Position, Sink, Source, SourceChunk, WriteOutcome } from '../src/types.js';
import { uniquePrefix } from './corpus.js';
import { failure, testAdapterOptions } from './helpers.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'follow-'));

/** A promise and the function that resolves it. */
function gate<T = void>(): { promise: Promise<T>; open: (value: T) => void } {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => (open = resolve));
  return { promise, open };
}

/** The documents of a memory store, collection by collection, sorted by `_id`. */
function contents(name: string): Record<string, [string, Doc][]> {
  return Object.fromEntries([...memoryStore(name)].map(([c, docs]) => [c, [...docs].sort(([a], [b]) => a.localeCompare(b))]));
}

/**
 * A memory source whose feed tells the test each time it has caught up (so the test writes its
 * changes once the follow is under way), and a memory sink that tells it after each write or
 * removal (so the test waits until the target holds what it expects).
 */
function observed(from: string, to: string) {
  const source = createSource(openMemory(from), testAdapterOptions());
  const inner = source.feed!;
  let caughtUp = gate();
  const feed: ChangeFeed = {
    head: (collections, signal) => inner.head(collections, signal),
    async *changes(options) {
      for await (const chunk of inner.changes(options)) {
        yield chunk;
        if (chunk.caughtUp) {
          const reached = caughtUp;
          caughtUp = gate();
          reached.open();
        }
      }
    },
  };
  const sink = createSink(openMemory(to), testAdapterOptions());
  const waiting: { done: () => boolean; open: () => void }[] = [];
  const check = () => {
    for (const w of [...waiting]) if (w.done()) (waiting.splice(waiting.indexOf(w), 1), w.open());
  };
  const write = sink.write.bind(sink);
  const remove = sink.remove!.bind(sink);
  sink.write = async (c, docs, signal) => {
    const out = await write(c, docs, signal);
    check();
    return out;
  };
  sink.remove = async (c, ids, signal) => {
    const out = await remove(c, ids, signal);
    check();
    return out;
  };
  return {
    source: { ...source, feed } as Source,
    sink,
    /** The next time the feed reaches the source's head. */
    caughtUp: () => caughtUp.promise,
    /** Resolves once `done()` holds after a write or removal (or at once). */
    until(done: () => boolean): Promise<void> {
      if (done()) return Promise.resolve();
      const g = gate();
      waiting.push({ done, open: () => g.open() });
      return g.promise;
    },
  };
}

const same = (a: string, b: string) => () => JSON.stringify(contents(a)) === JSON.stringify(contents(b));

function seed(name: string, agents: number) {
  const writer = memoryWriter(name);
  for (let i = 0; i < agents; i++) writer.put('agents', { _id: `a${i}`, n: i });
  writer.put('users', { _id: 'u0', name: 'ada' });
  return writer;
}

/** A follow with a checkpoint from a seeded memory store, caught up: the test changes the source, then stops it. */
async function followUnderWay(agents: number) {
  const checkpoint = join(tmp(), 'run.ckpt');
  const [from, to] = [uniquePrefix(), uniquePrefix()];
  const writer = seed(from, agents);
  const ends = observed(from, to);
  const stop = new AbortController();
  const run = migrate({ from: ends.source, to: ends.sink, follow: true, checkpoint, signal: stop.signal });
  await ends.caughtUp();
  return { checkpoint, from, to, writer, ends, stop, run };
}

describe('migrate with follow', () => {
  test('copies the snapshot, then applies creates, updates and deletes as they come; a stop ends it well', async () => {
    const [from, to] = [uniquePrefix(), uniquePrefix()];
    const writer = seed(from, 3);
    const ends = observed(from, to);
    const stop = new AbortController();
    const progress: (number | undefined)[] = [];
    const run = migrate({ from: ends.source, to: ends.sink, follow: true, signal: stop.signal, onProgress: (p) => progress.push(p.following?.applied) });
    await ends.caughtUp();
    expect(contents(to)).toEqual(contents(from));
    writer.put('agents', { _id: 'a9', n: 9 });
    writer.put('agents', { _id: 'a1', n: 100 });
    writer.delete('agents', 'a0');
    writer.delete('users', 'u0');
    writer.put('users', { _id: 'u1', name: 'grace' });
    await ends.until(same(from, to));
    stop.abort();
    const report = await run;
    expect(contents(to)).toEqual(contents(from));
    expect(memoryStore(to).get('agents')!.has('a0')).toBe(false);
    expect(report).toMatchObject({ ok: true, interrupted: false });
    expect(report.collections).toEqual({
      agents: { read: 6, written: 5, skipped: 0, dropped: 0, failed: 0, deleted: 1 },
      users: { read: 3, written: 2, skipped: 0, dropped: 0, failed: 0, deleted: 1 },
    });
    expect(report.follow).toMatchObject({ applied: 5, reapplied: 0 });
    // The last report is the run's end: it carries the following counts.
    expect(progress.at(-1)).toBe(5);
  });

  test('a change made during the snapshot is never lost: the feed starts before it', async () => {
    const [from, to] = [uniquePrefix(), uniquePrefix()];
    const writer = seed(from, 5);
    // While the snapshot is read: a copied document deleted and another updated, one not yet read updated, one added.
    const during = (doc: Doc) => {
      if (doc._id === 'a2') {
        writer.delete('agents', 'a0');
        writer.put('agents', { _id: 'a1', n: 'updated' });
        writer.put('agents', { _id: 'a4', n: 'updated' });
        writer.put('agents', { _id: 'a7', n: 7 });
      }
      return doc;
    };
    const report = await migrate({ from: `memory:${from}`, to: `memory:${to}`, follow: true, untilCaughtUp: true, transforms: [during] });
    expect(contents(to)).toEqual(contents(from));
    expect(report.follow).toMatchObject({ applied: 4, caughtUp: true, lag: { changes: 0 } });
    expect(report.total.deleted).toBe(1);
  });

  test('--until-caught-up with nothing changed ends at once, having applied nothing', async () => {
    const [from, to] = [uniquePrefix(), uniquePrefix()];
    seed(from, 2);
    const report = await migrate({ from: `memory:${from}`, to: `memory:${to}`, follow: true, untilCaughtUp: true });
    expect(report).toMatchObject({ ok: true, interrupted: false, follow: { applied: 0, caughtUp: true, reapplied: 0 } });
    expect(contents(to)).toEqual(contents(from));
  });

  test('transforms and checks apply to the changes as to the snapshot; a bad change is dead-lettered and the follow goes on', async () => {
    const [from, to] = [uniquePrefix(), uniquePrefix()];
    const writer = seed(from, 1);
    const failed: unknown[] = [];
    const upper = (doc: Doc) => (typeof doc.name === 'string' ? { ...doc, name: doc.name.toUpperCase() } : doc);
    // At the last document of the snapshot (users is read last): these come from the feed only.
    const during = (doc: Doc) => {
      if (doc._id === 'u0') {
        writer.put('users', { _id: 'u2', name: 'linus' });
        writer.put('users', { _id: 'u3', bad: Number.NaN });
      }
      return doc;
    };
    const report = await migrate({ from: `memory:${from}`, to: `memory:${to}`, follow: true, untilCaughtUp: true, transforms: [during, upper], onFailed: (f) => failed.push(f._id) });
    expect(memoryStore(to).get('users')!.get('u2')).toEqual({ _id: 'u2', name: 'LINUS' });
    expect(failed).toEqual(['u3']);
    expect(report.collections.users).toMatchObject({ written: 2, failed: 1 });
  });

  test('stopped during the snapshot it is an interruption; --resume finishes the snapshot, then follows from the head taken before it', async () => {
    const dir = tmp();
    const checkpoint = join(dir, 'run.ckpt');
    const [from, to] = [uniquePrefix(), uniquePrefix()];
    const writer = seed(from, 6);
    const stop = new AbortController();
    const options = { from: `memory:${from}`, to: `memory:${to}`, follow: true, checkpoint, batchSize: 2 } satisfies MigrateOptions;
    // At a2 (a0 and a1 copied): a0 deleted and a5 changed in the source, then Ctrl-C.
    const stopAt = (doc: Doc) => {
      if (doc._id === 'a2' && !stop.signal.aborted) {
        writer.delete('agents', 'a0');
        writer.put('agents', { _id: 'a5', n: 'changed' });
        stop.abort();
      }
      return doc;
    };
    const first = await migrate({ ...options, transforms: [stopAt], signal: stop.signal });
    expect(first).toMatchObject({ interrupted: true, ok: false });
    expect(first.follow).toBeUndefined();
    const saved = JSON.parse(readFileSync(checkpoint, 'utf8')) as CheckpointData;
    expect(saved.feed).toMatchObject({ position: null, applied: 0 });
    expect(saved.position).not.toBeNull();
    expect(memoryStore(to).get('agents')!.has('a0')).toBe(true);

    const resumed = await migrate({ ...options, transforms: [stopAt], resume: true, untilCaughtUp: true });
    expect(contents(to)).toEqual(contents(from));
    expect(resumed).toMatchObject({ ok: true, interrupted: false, follow: { applied: 2, caughtUp: true } });
  });

  test('--resume after the snapshot follows from the saved position without copying again', async () => {
    const { checkpoint, from, to, writer, ends, stop, run } = await followUnderWay(4);
    writer.put('agents', { _id: 'a1', n: 'one' });
    await ends.until(same(from, to));
    stop.abort();
    const first = await run;
    expect(first.follow).toMatchObject({ applied: 1 });
    const saved = JSON.parse(readFileSync(checkpoint, 'utf8')) as CheckpointData;
    expect(saved).toMatchObject({ complete: false, feed: { applied: 1, sent: 1 } });
    expect(saved.feed!.position).toEqual({ seq: expect.any(Number) });

    // While nothing follows, the source goes on changing.
    writer.delete('agents', 'a2');
    writer.put('agents', { _id: 'a5', n: 5 });
    const sent: string[] = [];
    const again = observed(from, to);
    const write = again.sink.write;
    again.sink.write = (c, docs, signal) => (sent.push(...docs.map((d) => d._id as string)), write(c, docs, signal));
    const resumed = await migrate({ from: again.source, to: again.sink, follow: true, checkpoint, resume: true, untilCaughtUp: true });
    expect(contents(to)).toEqual(contents(from));
    // Only the change since the stop was written: the snapshot was not copied again.
    expect(sent).toEqual(['a5']);
    expect(resumed.follow).toMatchObject({ applied: 2, reapplied: 0 });
    // The counts cover the whole migration.
    expect(resumed.collections.agents).toMatchObject({ written: 6, deleted: 1 });
    expect(resumed.earlier).toMatchObject({ written: 6 });
  });

  test('after a crash, --resume loses nothing and counts the changes it applies again: those sent past the saved position', async () => {
    const { checkpoint, from, to, writer, ends, stop, run } = await followUnderWay(2);
    const crashed = `${checkpoint}.crashed`;
    const held = gate();
    const sending = gate<string[]>();
    const write = ends.sink.write;
    ends.sink.write = async (c, docs, signal) => {
      if (docs.some((d) => d._id === 'x0')) {
        sending.open(docs.map((d) => d._id as string));
        await held.promise;
      }
      return write(c, docs, signal);
    };
    for (let i = 0; i < 3; i++) writer.put('agents', { _id: `x${i}`, n: i });
    expect(await sending.promise).toEqual(['x0', 'x1', 'x2']);
    // The process dies here (SIGKILL): the batch is at the target, its answer never came back.
    copyFileSync(checkpoint, crashed);
    held.open();
    await ends.until(same(from, to));
    stop.abort();
    await run;

    const atCrash = JSON.parse(readFileSync(crashed, 'utf8')) as CheckpointData;
    expect(atCrash.feed!.sent - atCrash.feed!.applied).toBe(3);
    copyFileSync(crashed, checkpoint);
    writer.delete('agents', 'x1');
    const resumed = await migrate({ from: `memory:${from}`, to: `memory:${to}`, follow: true, checkpoint, resume: true, untilCaughtUp: true });
    expect(contents(to)).toEqual(contents(from));
    expect(resumed.follow).toMatchObject({ applied: 4, reapplied: 3 });
  });

  test('a resume follows the collections its first run chose, not one the source holds since', async () => {
    const { checkpoint, from, to, writer, stop, run } = await followUnderWay(1);
    stop.abort();
    await run;
    expect((JSON.parse(readFileSync(checkpoint, 'utf8')) as CheckpointData).feed!.collections).toEqual(['agents', 'users']);
    writer.put('tickets', { _id: 't0' });
    writer.put('agents', { _id: 'a1', n: 1 });
    const resumed = await migrate({ from: `memory:${from}`, to: `memory:${to}`, follow: true, checkpoint, resume: true, untilCaughtUp: true });
    expect(memoryStore(to).has('tickets')).toBe(false);
    expect(memoryStore(to).get('agents')!.has('a1')).toBe(true);
    expect(resumed.follow).toMatchObject({ applied: 1 });
  });

  test('stopped while the feed is asked for its head: an interruption, nothing copied, no checkpoint', async () => {
    const dir = tmp();
    const checkpoint = join(dir, 'run.ckpt');
    const [from, to] = [uniquePrefix(), uniquePrefix()];
    seed(from, 2);
    const source = createSource(openMemory(from), testAdapterOptions());
    const asked = gate();
    const waiting: ChangeFeed = {
      ...source.feed!,
      head: (_c, signal) => {
        asked.open();
        return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
      },
    };
    const stop = new AbortController();
    const run = migrate({ from: { ...source, feed: waiting }, to: `memory:${to}`, follow: true, checkpoint, signal: stop.signal });
    await asked.promise;
    stop.abort();
    expect(await run).toMatchObject({ interrupted: true, total: { read: 0 } });
    expect(memoryStore(to).size).toBe(0);
    expect(() => readFileSync(checkpoint)).toThrow(/ENOENT/);
  });

  test('a source with no feed, stdin, or a target that cannot delete is refused before anything is read or written', async () => {
    const [from, to] = [uniquePrefix(), uniquePrefix()];
    seed(from, 1);
    let closed = 0;
    const source = createSource(openMemory(from), testAdapterOptions());
    const noFeed: Source = { ...source, feed: undefined, provider: 'file', label: 'file:backup.json', close: async () => void closed++ };
    const sink = createSink(openMemory(to), testAdapterOptions());
    expect((await failure(() => migrate({ from: noFeed, to: sink, follow: true }))).message).toBe(
      '--follow: file:backup.json: a file has no change feed; follow the store it was exported from (couchdb, dynamodb, firestore) instead, or import the file without --follow',
    );
    const noRemove: Sink = { ...sink, remove: undefined, close: async () => void closed++ };
    const refused = await failure(() => migrate({ from: `memory:${from}`, to: noRemove, follow: true }));
    expect(refused).toMatchObject({ kind: 'usage', code: 'cannot-follow' });
    expect(refused.message).toMatch(/cannot delete documents/);
    expect(closed).toBe(2);
    expect(memoryStore(to).size).toBe(0);
    await expect(migrate({ from: `memory:${from}`, to: `memory:${to}`, follow: true, dryRun: true })).rejects.toThrow(/--follow and --dry-run do not go together/);
    await expect(migrate({ from: `memory:${from}`, to: `memory:${to}`, untilCaughtUp: true })).rejects.toThrow(/give --follow too/);
    await expect(migrate({ from: `memory:${from}`, to: `memory:${to}`, follow: true, onConflict: 'skip' })).rejects.toThrow(
      '--follow applies every update of the source: with --on-conflict skip its updates would be skipped and the target fall behind; leave --on-conflict at overwrite',
    );
  });

  test('--enable-stream reaches the stores (StoreOptions.enableStream)', () => {
    expect(adapterOptions({ enableStream: true }).enableStream).toBe(true);
    expect(adapterOptions({}).enableStream).toBeUndefined();
  });

  test('a checkpoint of a run without --follow is not resumed with it', async () => {
    const dir = tmp();
    const checkpoint = join(dir, 'run.ckpt');
    const [from, to] = [uniquePrefix(), uniquePrefix()];
    seed(from, 4);
    const stop = new AbortController();
    const stopAt = (doc: Doc) => (doc._id === 'a1' && stop.abort(), doc);
    await migrate({ from: `memory:${from}`, to: `memory:${to}`, checkpoint, batchSize: 1, transforms: [stopAt], signal: stop.signal });
    const refused = await failure(() => migrate({ from: `memory:${from}`, to: `memory:${to}`, checkpoint, batchSize: 1, transforms: [stopAt], resume: true, follow: true }));
    expect(refused.message).toMatch(/belongs to another run: its --follow was false, this run's is true/);
  });
});

/** A source of one collection with no snapshot documents and a feed that gives these chunks, then waits to be stopped. */
function feedSource(chunks: SourceChunk[]): Source {
  return {
    label: 'feed', provider: 'fake', identity: async () => 'feed', listCollections: async () => ['agents'],
    async *read() {
      yield { collection: 'agents', docs: [], position: { snapshot: 'done' } };
    },
    feed: {
      head: async () => ({ at: 0 }),
      async *changes() {
        yield* chunks;
        yield { collection: 'agents', docs: [], position: { at: chunks.length }, caughtUp: true };
      },
    },
    close: async () => {},
  };
}

describe('changes to one _id land in source order with batches in flight', () => {
  test('a removal waits for the write of its _id in flight, and a write for that removal, while other batches answer first', async () => {
    const calls: string[] = [];
    const target = new Map<string, Doc>();
    const first = gate();
    const firstSent = gate();
    const others = gate();
    let answered = 0;
    const sink: Sink = {
      label: 'gated', provider: 'gated', batchSize: 1, concurrency: 4, identity: async () => 'gated', prepare: async () => {},
      async write(_c, docs): Promise<WriteOutcome[]> {
        const doc = docs[0]!;
        calls.push(`write ${String(doc._id)} ${String(doc.v)}`);
        if (doc._id === 'x' && doc.v === 1) {
          firstSent.open();
          await first.promise;
        }
        target.set(doc._id as string, doc);
        if (doc._id !== 'x' && ++answered === 2) others.open();
        return [{ status: 'written' }];
      },
      async remove(_c, ids): Promise<WriteOutcome[]> {
        calls.push(`remove ${ids.join()}`);
        for (const id of ids) target.delete(id);
        return ids.map(() => ({ status: 'written' }));
      },
      close: async () => {},
    };
    const at = (n: number): Position => ({ at: n });
    const source = feedSource([
      { collection: 'agents', docs: [{ _id: 'x', v: 1 }, { _id: 'y', v: 1 }, { _id: 'z', v: 1 }], position: at(1) },
      { collection: 'agents', docs: [], deletes: ['x'], position: at(2) },
      { collection: 'agents', docs: [{ _id: 'x', v: 2 }], position: at(3) },
      { collection: 'agents', docs: [], deletes: ['y'], position: at(4) },
    ]);
    const run = migrate({ from: source, to: sink, follow: true, untilCaughtUp: true });
    await firstSent.promise;
    // y and z are answered while x's first write is still out; x's removal is not sent meanwhile.
    await others.promise;
    expect(calls).toEqual(['write x 1', 'write y 1', 'write z 1']);
    first.open();
    const report = await run;
    expect(calls).toEqual(['write x 1', 'write y 1', 'write z 1', 'remove x', 'write x 2', 'remove y']);
    expect([...target.keys()].sort()).toEqual(['x', 'z']);
    expect(target.get('x')).toEqual({ _id: 'x', v: 2 });
    expect(report.collections.agents).toMatchObject({ read: 6, written: 4, deleted: 2 });
  });

  test('the writer holds an _id already in the batch being filled, and never mixes writes and removals in one batch', async () => {
    const batches: string[][] = [];
    const sink: Sink = {
      label: 's', provider: 's', batchSize: 10, concurrency: 1, identity: async () => 's', prepare: async () => {},
      write: async (_c, docs) => (batches.push(docs.map((d) => `${String(d._id)}${String(d.v)}`)), docs.map(() => ({ status: 'written' as const }))),
      remove: async (_c, ids) => (batches.push(ids.map((id) => `-${id}`)), ids.map(() => ({ status: 'written' as const }))),
      close: async () => {},
    };
    const writer = new BatchWriter(sink, new RunStats(), new DeadLetters(undefined, false, () => {}), new AbortController().signal, () => {});
    const ticket = writer.ticket('agents', undefined);
    await writer.add('agents', { _id: 'a', v: 1 }, ticket);
    await writer.add('agents', { _id: 'b', v: 1 }, ticket);
    await writer.add('agents', { _id: 'a', v: 2 }, ticket);
    await writer.remove('agents', 'b', ticket);
    await writer.remove('agents', 'c', ticket);
    await writer.add('agents', { _id: 'c', v: 1 }, ticket);
    writer.seal(ticket);
    await writer.drain();
    expect(batches).toEqual([['a1', 'b1'], ['a2'], ['-b', '-c'], ['c1']]);
  });
});

describe('deletes in a run without --follow (a change log)', () => {
  const changeLog = (): Source => ({
    label: 'file:changes.ndjson', provider: 'file', identity: async () => 'log', listCollections: async () => ['agents'],
    async *read() {
      yield { collection: 'agents', docs: [{ _id: 'a', v: 1 }, { _id: 'b', v: 1 }], position: { line: 2 } };
      yield { collection: 'agents', docs: [], deletes: ['a'], position: { line: 3 }, where: (i) => `changes.ndjson line ${3 + i}` };
      yield { collection: 'agents', docs: [{ _id: 'a', v: 2 }, { _id: 'c', v: 1 }], position: { line: 5 } };
      yield { collection: 'agents', docs: [], deletes: ['c', ''], position: { line: 7 }, where: (i) => `changes.ndjson line ${6 + i}` };
    },
    close: async () => {},
  });

  test('are applied in order with the documents around them', async () => {
    const to = uniquePrefix();
    const failed: string[] = [];
    const report = await migrate({ from: changeLog(), to: `memory:${to}`, onFailed: (f) => failed.push(`${f.where}: ${f.reason}`) });
    expect(contents(to)).toEqual({ agents: [['a', { _id: 'a', v: 2 }], ['b', { _id: 'b', v: 1 }]] });
    expect(report.collections.agents).toEqual({ read: 7, written: 4, skipped: 0, dropped: 0, failed: 1, deleted: 2 });
    expect(failed).toEqual(['changes.ndjson line 7: cannot delete: _id is empty']);
  });

  test('a dry run counts them as deleted and removes nothing', async () => {
    const to = uniquePrefix();
    memoryWriter(to).put('agents', { _id: 'c', v: 0 });
    const report = await migrate({ from: changeLog(), to: `memory:${to}`, dryRun: true });
    expect(report.collections.agents).toMatchObject({ read: 7, written: 4, deleted: 2, failed: 1 });
    expect(contents(to)).toEqual({ agents: [['c', { _id: 'c', v: 0 }]] });
  });

  test('a target that cannot delete stops the run with one line naming what was to be deleted', async () => {
    const to = uniquePrefix();
    const sink = { ...createSink(openMemory(to), testAdapterOptions()), remove: undefined };
    const error = await failure(() => migrate({ from: changeLog(), to: sink }));
    expect(error).toMatchObject({ kind: 'fatal', code: 'cannot-delete' });
    expect(error.message).toBe(`memory:${to} cannot delete documents, and file:changes.ndjson deletes agents _id a: give a target that can (a database, memory, or an NDJSON file)`);
  });
});

describe('the checkpoint of a follow', () => {
  test('says what was sent before it is sent; batches waiting while a save runs share the next save', async () => {
    const path = join(tmp(), 'run.ckpt');
    let saves = 0;
    let held: Promise<void> | undefined;
    let started = gate();
    const checkpointer = new Checkpointer(path, { source: 's', target: 't', collections: null, settings: {} }, undefined, async () => {
      saves++;
      started.open();
      await held;
    });
    await checkpointer.beginFeed({ seq: 0 }, ['agents']);
    await checkpointer.startFollowing();
    saves = 0;
    started = gate();
    const release = gate();
    held = release.promise;
    const first = checkpointer.sending(1, 0);
    await started.promise;
    held = undefined;
    // Batches two and three are sent while the first one's save is still on its way to disk.
    const more = [checkpointer.sending(2, 0), checkpointer.sending(3, 0)];
    release.open();
    await Promise.all([first, ...more]);
    expect(saves).toBe(2);
    expect((JSON.parse(readFileSync(path, 'utf8')) as CheckpointData).feed).toMatchObject({ position: { seq: 0 }, applied: 0, sent: 3 });
    // Already on disk: no save at all.
    await checkpointer.sending(2, 0);
    expect(saves).toBe(2);
  });

  test('while changes come fast, a save records a writer\'s window ahead, so the next batches go without a save', async () => {
    // The clock stands still: every send comes "right after" the one before.
    vi.useFakeTimers({ toFake: ['Date'] });
    onTestFinished(() => void vi.useRealTimers());
    const path = join(tmp(), 'run.ckpt');
    let saves = 0;
    const checkpointer = new Checkpointer(path, { source: 's', target: 't', collections: null, settings: {} }, undefined, async () => void saves++);
    await checkpointer.beginFeed({ seq: 0 }, ['agents']);
    await checkpointer.startFollowing();
    saves = 0;
    // The first send of a run records exactly what it sends.
    await checkpointer.sending(2, 10);
    expect((JSON.parse(readFileSync(path, 'utf8')) as CheckpointData).feed!.sent).toBe(2);
    // Right after it, the next one reserves a window of 10 ahead; the batches inside it need no save.
    await checkpointer.sending(4, 10);
    await checkpointer.sending(9, 10);
    await checkpointer.sending(14, 10);
    expect(saves).toBe(2);
    expect((JSON.parse(readFileSync(path, 'utf8')) as CheckpointData).feed!.sent).toBe(14);
  });
});
