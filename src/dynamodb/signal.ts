/**
 * One run's AbortSignal reaches every call in flight (the SDK and p-retry each add a listener per
 * call), which trips Node's MaxListenersExceededWarning at 16 batches in flight. Each caller signal
 * gets one child signal of ours, with no listener limit, that follows it.
 */
import { setMaxListeners } from 'node:events';

const children = new WeakMap<AbortSignal, AbortSignal>();

export function callSignal(signal: AbortSignal): AbortSignal {
  let child = children.get(signal);
  if (!child) {
    const controller = new AbortController();
    setMaxListeners(0, controller.signal);
    if (signal.aborted) controller.abort(signal.reason);
    else signal.addEventListener('abort', () => controller.abort(signal.reason), { once: true });
    children.set(signal, (child = controller.signal));
  }
  return child;
}
