/**
 * Probes for the library's Node streams: a source that counts what has been pulled from it and
 * whether it was closed, a sink that counts what it answered and can hold its batches until the
 * test releases them, a deliberately slow middle stage, and a wait on a condition by event-loop
 * turns (never by time).
 */
import { Transform } from 'node:stream';
import type { DocumentRecord, Sink, Source, SourceChunk } from '../src/types.js';

/** Wraps a source: `pulled` documents so far, `finished` once read to its end, `closed` once closed; `onPull` after each chunk. */
export function countedSource(inner: Source, onPull: () => void = () => {}) {
  const state = { pulled: 0, finished: false, closed: false };
  const source: Source = {
    label: inner.label,
    get provider() {
      return inner.provider;
    },
    identity: () => inner.identity(),
    listCollections: () => inner.listCollections(),
    async *read(options): AsyncIterable<SourceChunk> {
      for await (const chunk of inner.read(options)) {
        state.pulled += chunk.docs.length;
        onPull();
        yield chunk;
      }
      state.finished = true;
    },
    close: async () => {
      state.closed = true;
      await inner.close();
    },
  };
  return { source, state };
}

/**
 * Wraps a sink: `answered` documents so far, `inFlight` batches. While `held`, every batch waits
 * until `release()` lets the oldest go (or `releaseAll()` every one, now and later).
 */
export function heldSink(inner: Sink, overrides: { concurrency?: number } = {}) {
  const waiting: (() => void)[] = [];
  const state = { answered: 0, inFlight: 0, held: true };
  const sink: Sink = {
    label: inner.label,
    provider: inner.provider,
    batchSize: inner.batchSize,
    concurrency: overrides.concurrency ?? inner.concurrency,
    resumable: inner.resumable,
    identity: () => inner.identity(),
    begin: inner.begin && ((run) => inner.begin!(run)),
    preflight: inner.preflight && ((collections) => inner.preflight!(collections)),
    prepare: (collection) => inner.prepare(collection),
    check: inner.check && ((doc, collection) => inner.check!(doc, collection)),
    async write(collection, docs, signal) {
      state.inFlight++;
      if (state.held) await new Promise<void>((resolve) => waiting.push(resolve));
      const outcomes = await inner.write(collection, docs, signal);
      state.inFlight--;
      state.answered += docs.length;
      return outcomes;
    },
    close: (complete) => inner.close(complete),
  };
  return {
    sink,
    state,
    release: () => waiting.shift()?.(),
    releaseAll: () => {
      state.held = false;
      for (const go of waiting.splice(0)) go();
    },
  };
}

/** Lets the event loop run (I/O, timers, other streams) `n` times. */
export async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** Waits, turn by turn, until `condition` holds; fails after `limit` turns instead of hanging. */
export async function until(condition: () => boolean, what: string, limit = 10_000): Promise<void> {
  for (let i = 0; !condition(); i++) {
    if (i >= limit) throw new Error(`never happened: ${what}`);
    await turns(1);
  }
}

/** A middle stage that lets the loop turn `slowness` times per record before passing it on, counting them. */
export function slowStage(slowness: number, change: (record: DocumentRecord) => DocumentRecord = (r) => r) {
  const state = { consumed: 0 };
  const stage = new Transform({
    objectMode: true,
    transform(record: DocumentRecord, _encoding, done) {
      state.consumed++;
      turns(slowness).then(() => done(null, change(record)), done);
    },
  });
  return { stage, state };
}
