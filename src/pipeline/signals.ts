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
