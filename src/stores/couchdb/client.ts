/**
 * The one place that talks HTTP to CouchDB: authenticated requests through Node's fetch, bodies
 * sent as text and answers parsed by us.
 *
 * A JSON client's helpers would run JSON.stringify / JSON.parse, which round integers beyond 2^53
 * and drop ExactNumber digits; so bodies go out as stringifyExact wrote them and answers are read
 * as text for parseJson. That leaves a client nothing to do but build URLs, which is done here.
 */
import { fatalError } from '../../errors.js';
import { parseJson } from '../../formats/parse.js';
import { isNetworkError, isTransientStatus, unreachableCodes, withRetry } from '../common/retry.js';
import { bodyText, linkAbort } from '../../util/abort.js';
import { redact, registerSecret } from '../../util/redact.js';
import type { JsonValue } from '../../types.js';
import type { CouchEndpoint } from './endpoint.js';

export interface CouchRequest {
  method?: 'GET' | 'PUT' | 'POST';
  /** Database name (encoded here). */
  db?: string;
  /** Path after the database (or after the server when no db), e.g. `_bulk_docs`. */
  path?: string;
  /** Query parameters; `startkey`, `keys`… are JSON-encoded here, as CouchDB wants them. */
  qs?: Record<string, string | number | boolean>;
  /** Body already serialized (stringifyExact). */
  body?: string;
  signal?: AbortSignal;
}

/** What adapters need from a CouchDB connection: narrow, so a unit test can hand in a fake. */
export interface CouchClient {
  readonly endpoint: CouchEndpoint;
  request(request: CouchRequest): Promise<JsonValue>;
}

/** CouchDB answered with an error status (the whole request, not one document). */
export class CouchHttpError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly reason: string,
    /** What the answer looked like when it was not CouchDB's `{"error", "reason"}` (another service on that port). */
    readonly notCouch?: string,
  ) {
    super(`CouchDB answered ${status}${error ? ` ${error}` : ''}${reason && reason !== error ? `: ${reason}` : ''}`);
    this.name = 'CouchHttpError';
  }
}

/** No HTTP answer at all: refused, reset, timed out, name not found. */
export class CouchConnectionError extends Error {
  constructor(
    readonly code: string,
    readonly reason: string,
  ) {
    super(reason);
    this.name = 'CouchConnectionError';
  }

  /** The server could not be reached at all (as opposed to a connection lost mid-request). */
  get unreachable(): boolean {
    return unreachableCodes.includes(this.code);
  }
}

// No single request may hang a run: a stuck server becomes a timeout, which is retried.
const requestTimeoutMs = 120_000;

/** Query parameters CouchDB reads as JSON values rather than text. */
const jsonParameters = new Set(['startkey', 'endkey', 'key', 'keys', 'start_key', 'end_key']);

function requestUrl(base: string, { db, path, qs }: CouchRequest): string {
  let url = db === undefined ? base : `${base}/${encodeURIComponent(db)}`;
  if (path) url += `/${path}`;
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(qs ?? {})) query.set(key, jsonParameters.has(key) ? JSON.stringify(value) : String(value));
  const text = query.toString();
  return text ? `${url}?${text}` : url;
}

export function openCouch(endpoint: CouchEndpoint): CouchClient {
  const headers: Record<string, string> = { accept: 'application/json', 'content-type': 'application/json' };
  if (endpoint.user !== undefined) {
    const token = Buffer.from(`${endpoint.user}:${endpoint.password ?? ''}`).toString('base64');
    // The header is the password in base64: a server or proxy that echoes it in an error must not leak it.
    if (endpoint.password) registerSecret(token);
    headers.authorization = `Basic ${token}`;
  }

  return {
    endpoint,
    async request(request: CouchRequest): Promise<JsonValue> {
      const { method = 'GET', body, signal } = request;
      const link = linkAbort([signal], requestTimeoutMs);
      let status: number;
      let text: string;
      try {
        // A redirect would re-send the credentials elsewhere: refused, as a failed connection.
        const response = await fetch(requestUrl(endpoint.url, request), { method, headers, body, redirect: 'error', signal: link.signal });
        status = response.status;
        text = await bodyText(response, link.signal);
      } catch (error) {
        signal?.throwIfAborted();
        throw connectionError(error, link.timedOut);
      } finally {
        link.release();
      }
      if (status >= 400) throw httpError(status, text);
      return text === '' ? null : parseJson(text);
    },
  };
}

/** CouchDB's `{"error", "reason"}` answer as an error; a body that is not JSON says only the status. */
function httpError(status: number, text: string): CouchHttpError {
  let answer: { error?: unknown; reason?: unknown; message?: unknown; __type?: unknown } = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'string') answer = { message: parsed };
    else if (parsed && typeof parsed === 'object') answer = parsed;
  } catch {
    // Not JSON (a proxy's HTML page, an empty 500): only the status is known.
  }
  const error = typeof answer.error === 'string' ? answer.error : '';
  const reason = typeof answer.reason === 'string' ? answer.reason : (typeof answer.message === 'string' && answer.message) || error || `couch returned ${status}`;
  return new CouchHttpError(status, error, reason, error ? undefined : otherService(answer));
}

/** CouchDB always names its error; an answer without one came from something else listening there. */
function otherService(answer: { __type?: unknown }): string {
  return typeof answer.__type === 'string' ? 'it answered like an AWS service (DynamoDB?)' : 'its answer is not CouchDB\'s';
}

/** No HTTP answer (refused, reset, timed out, name not found), with the system's code when it gave one. */
function connectionError(error: unknown, timedOut: boolean): CouchConnectionError {
  if (timedOut) return new CouchConnectionError('ETIMEDOUT', `no answer within ${requestTimeoutMs / 1000}s`);
  const cause = (error as { cause?: unknown } | undefined)?.cause;
  const message = cause === undefined ? ((error as Error | undefined)?.message ?? String(error)) : String(cause);
  const code = /\b(E[A-Z]{3,}|UND_ERR_[A-Z_]+)\b/.exec(message)?.[1] ?? 'UNKNOWN';
  return new CouchConnectionError(code, describeCode(code, message));
}

function describeCode(code: string, message: string): string {
  const known: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ENOTFOUND: 'host not found',
    EAI_AGAIN: 'host name lookup failed',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable',
    ECONNRESET: 'connection reset',
    ETIMEDOUT: 'connection timed out',
  };
  return known[code] ?? message;
}

/**
 * Worth another try: throttling, server errors, dropped connections, timeouts. A document CouchDB
 * finds invalid is never transient, whatever status the server chose (pouchdb-server says 500).
 */
export function isTransientCouchError(error: unknown): boolean {
  if (error instanceof CouchHttpError) return error.error !== 'doc_validation' && isTransientStatus(error.status);
  return error instanceof CouchConnectionError || isNetworkError(error);
}

/**
 * The same for store-level calls (listing, reading, creating a database; the session), except that
 * a server that cannot be reached at all fails at once (isUnreachable in common/retry.ts).
 */
export function isTransientDatabaseCall(error: unknown): boolean {
  return !(error instanceof CouchConnectionError && error.unreachable) && isTransientCouchError(error);
}

/**
 * The fatal error for a failure that stops the run, one line, no secret:
 * `cannot reach CouchDB at 127.0.0.1:5999: connection refused`.
 */
export function fatalCouchError(error: unknown, endpoint: CouchEndpoint, doing: string): Error {
  if (error instanceof CouchConnectionError) {
    return fatalError('couchdb-unreachable', `cannot reach CouchDB at ${endpoint.hostPort}: ${error.reason}`, error);
  }
  if (error instanceof CouchHttpError && (error.status === 401 || error.status === 403)) {
    const detail = redact(error.reason || error.error);
    if (endpoint.user === undefined) {
      return fatalError('couchdb-auth', `CouchDB at ${endpoint.hostPort} requires credentials (set COUCHDB_USER and COUCHDB_PASSWORD) for ${doing}: ${detail}`, error);
    }
    return fatalError('couchdb-auth', `CouchDB at ${endpoint.hostPort} refused the credentials for user ${endpoint.user} for ${doing}: ${detail}`, error);
  }
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof CouchHttpError && error.notCouch) {
    return fatalError('couchdb-failed', redact(`CouchDB at ${endpoint.hostPort} failed for ${doing}: HTTP ${error.status}, and ${error.notCouch}: is ${endpoint.hostPort} a CouchDB server?`), error);
  }
  return fatalError('couchdb-failed', redact(`CouchDB at ${endpoint.hostPort} failed for ${doing}: ${message}`), error);
}

/**
 * A request under the run's retry policy (`retries`), its last failure thrown as the fatal line for
 * `doing`. A `database` call (listing, reading or counting a database) fails at once on a server
 * that is not there. An abort is thrown as the abort.
 */
export async function requestOrFail(
  couch: CouchClient,
  doing: string,
  request: CouchRequest,
  policy: { retries: number; database?: boolean },
): Promise<JsonValue> {
  const { signal } = request;
  const transient = policy.database ? isTransientDatabaseCall : isTransientCouchError;
  try {
    return await withRetry(() => couch.request(request), (e) => !signal?.aborted && transient(e), { retries: policy.retries, signal });
  } catch (error) {
    signal?.throwIfAborted();
    throw fatalCouchError(error, couch.endpoint, doing);
  }
}

/** A failure from requestOrFail because CouchDB answered 404 (no such database or document). */
export function isNotFound(error: unknown): boolean {
  const cause = (error as Error | undefined)?.cause;
  return cause instanceof CouchHttpError && cause.status === 404;
}
