/**
 * Aborting a request so that the abort always arrives, on Node 20.
 *
 * Two of Node's own links hold signals only weakly: a signal made by `AbortSignal.any` is kept by
 * its sources weakly, and fetch follows the caller's signal through its Request, which nothing
 * holds once the answer's headers have come. After a garbage collection an abort then never reaches
 * a body still being read: a CouchDB long poll (its headers come at once) ran on after Ctrl-C
 * (test/servers/feed-stop-probe.ts shows it). Here each source holds a listener that holds the
 * controller, so the abort arrives; `release` unhooks the listeners once the request is over.
 */
export interface AbortLink {
  /** Aborts when a source does, or when the timeout passes. */
  readonly signal: AbortSignal;
  /** The timeout aborted it, not a source. */
  readonly timedOut: boolean;
  /** Unhooks from the sources and stops the timer. */
  release(): void;
}

export function linkAbort(sources: readonly (AbortSignal | undefined)[], timeoutMs?: number): AbortLink {
  const controller = new AbortController();
  const hooks: (() => void)[] = [];
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  const release = () => {
    clearTimeout(timer);
    for (const unhook of hooks.splice(0)) unhook();
  };
  for (const source of sources) {
    if (!source) continue;
    if (source.aborted) {
      controller.abort(source.reason);
      break;
    }
    const onAbort = () => {
      controller.abort(source.reason);
      release();
    };
    source.addEventListener('abort', onAbort, { once: true });
    hooks.push(() => source.removeEventListener('abort', onAbort));
  }
  if (controller.signal.aborted) release();
  else if (timeoutMs !== undefined) {
    timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError'));
      release();
    }, timeoutMs);
  }
  return {
    signal: controller.signal,
    get timedOut() {
      return timedOut;
    },
    release,
  };
}

/**
 * A response's body as text, read here rather than by `response.text()` so that an abort of
 * `signal` (a link's, held strongly) ends it even when fetch has lost the signal it was given.
 */
export async function bodyText(response: Response, signal: AbortSignal): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const cancel = () => void reader.cancel(signal.reason).catch(() => {});
  signal.addEventListener('abort', cancel, { once: true });
  try {
    const decoder = new TextDecoder();
    let text = '';
    for (let part = await reader.read(); !part.done; part = await reader.read()) text += decoder.decode(part.value, { stream: true });
    signal.throwIfAborted();
    return text + decoder.decode();
  } finally {
    signal.removeEventListener('abort', cancel);
  }
}
