/**
 * One retry policy for every store: exponential backoff with jitter (p-retry), a budget of
 * attempts, and a caller-supplied judgement of which errors are worth another try.
 */
import pRetry, { AbortError } from 'p-retry';

export interface RetryPolicy {
  /** Retries after the first attempt. */
  retries: number;
  /** First delay; doubles each retry, randomized, capped at maxDelayMs. */
  minDelayMs?: number;
  maxDelayMs?: number;
  signal?: AbortSignal;
  /** Called before each wait, e.g. to count faults survived. */
  onRetry?: (error: unknown, attempt: number) => void;
}

/**
 * Runs `attempt` until it succeeds, the error is not transient, or the budget is spent; then
 * rethrows the last error. State the attempt keeps in its closure (e.g. the documents still
 * pending) survives between attempts, so a partial success is never repeated.
 */
export function withRetry<T>(
  attempt: (attemptNumber: number) => Promise<T>,
  isTransient: (error: unknown) => boolean,
  policy: RetryPolicy,
): Promise<T> {
  return pRetry(
    async (attemptNumber) => {
      try {
        return await attempt(attemptNumber);
      } catch (error) {
        if (!isTransient(error)) throw new AbortError(error instanceof Error ? error : new Error(String(error)));
        throw error;
      }
    },
    {
      retries: policy.retries,
      minTimeout: policy.minDelayMs ?? 100,
      maxTimeout: policy.maxDelayMs ?? 10_000,
      factor: 2,
      randomize: true,
      signal: policy.signal,
      onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
        if (retriesLeft > 0) policy.onRetry?.(error, attemptNumber);
      },
    },
  );
}

/** Thrown by an attempt to ask for another try (e.g. a store handed back unprocessed items). */
export class RetryableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RetryableError';
  }
}

/** HTTP statuses worth retrying: throttling and server-side failures. */
export function isTransientStatus(status: number | undefined): boolean {
  return status === 408 || status === 429 || (status !== undefined && status >= 500);
}

/** Codes of a server that cannot be reached at all: nothing listens there, or the name does not resolve. */
export const unreachableCodes: readonly string[] = ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'];

/**
 * Whether a store-level call (list, describe or create a container) found no server at all. Those
 * calls ride out throttling, 5xx and dropped connections under the run's retry budget, as writes
 * do; a wrong address is no blip, though, and waiting out the whole budget (about 25 s at the
 * default 8 retries) would only delay the line that names it.
 */
export function isUnreachable(error: unknown): boolean {
  return unreachableCodes.includes((error as { code?: string } | undefined)?.code ?? '');
}

/** Dropped connections and timeouts, whatever library raised them. */
export function isNetworkError(error: unknown): boolean {
  const code = (error as { code?: string } | undefined)?.code;
  return (
    error instanceof RetryableError ||
    ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED'].includes(code ?? '') ||
    /socket hang up|network|terminated|other side closed/i.test((error as Error | undefined)?.message ?? '')
  );
}
