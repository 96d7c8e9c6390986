import { setMaxListeners } from 'node:events';

/**
 * A signal that aborts when any of the given ones does, handed to every call in flight at once.
 * The SDKs and p-retry add one listener per call and remove it when the call ends, so the count
 * follows --concurrency and --segments, not the length of a run: Node's warning at 11 listeners
 * would be a false alarm, so the limit is lifted here, for every adapter alike.
 */
export function sharedSignal(...signals: (AbortSignal | undefined)[]): AbortSignal {
  const signal = AbortSignal.any(signals.filter((s): s is AbortSignal => s !== undefined));
  setMaxListeners(0, signal);
  return signal;
}

/** The signals of one run: stopping (Ctrl-C) ends reading; a fatal error (`fail`) also cancels writes in flight. */
export interface RunSignals {
  /** The caller's stop, if any: aborted means interrupted. */
  stop?: AbortSignal;
  /** Handed to the source: aborts on stop or failure. */
  reading: AbortSignal;
  /** Handed to the sink's writes: aborts only on failure, so batches in flight finish after a stop. */
  writing: AbortSignal;
  fail(): void;
}

export function runSignals(stop: AbortSignal | undefined): RunSignals {
  const hard = new AbortController();
  return { stop, reading: sharedSignal(stop, hard.signal), writing: sharedSignal(hard.signal), fail: () => hard.abort() };
}
