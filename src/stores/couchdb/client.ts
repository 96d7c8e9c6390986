/**
 * The one place that talks HTTP to CouchDB: authenticated requests through nano, bodies sent as
 * text and answers parsed by us.
 *
 * nano's own helpers (db.bulk, db.list, …) run JSON.stringify / JSON.parse, which would round
 * integers beyond 2^53 and drop ExactNumber digits. Its `relax` takes a pre-serialized body
 * (`dontStringify`) and hands back the raw bytes (`dontParse`), so every call goes through it with
 * stringifyExact on the way out and parseJson on the way in. nano rejects transport failures with a
 * plain Error carrying no code, so they are recognised by the absence of an HTTP status.
 */
import nano from 'nano';
import { fatalError } from '../../errors.js';
import { parseJson } from '../../formats/parse.js';
import { isNetworkError, isTransientStatus } from '../common/retry.js';
import { redact, registerSecret } from '../../util/redact.js';
import type { JsonValue } from '../../types.js';
import type { CouchEndpoint } from './endpoint.js';

export interface CouchRequest {
  method?: 'GET' | 'PUT' | 'POST';
  /** Database name (encoded here). */
  db?: string;
  /** Path after the database (or after the server when no db), e.g. `_bulk_docs`. */
  path?: string;
  /** Query parameters; `startkey`, `keys`… are JSON-encoded by nano. */
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
    return ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'].includes(this.code);
  }
}

// No single request may hang a run: a stuck server becomes a timeout, which is retried.
const requestTimeoutMs = 120_000;

/** Options nano's relax honours but its typings omit. */
interface RelaxOptions {
  method: string;
  db?: string;
  path?: string;
  qs?: Record<string, string | number | boolean>;
  body?: string;
  dontStringify?: boolean;
  dontParse: true;
  signal: AbortSignal;
}

export function openCouch(endpoint: CouchEndpoint): CouchClient {
  const headers: Record<string, string> = {};
  if (endpoint.user !== undefined) {
    const token = Buffer.from(`${endpoint.user}:${endpoint.password ?? ''}`).toString('base64');
    // The header is the password in base64: a server or proxy that echoes it in an error must not leak it.
    if (endpoint.password) registerSecret(token);
    headers.Authorization = `Basic ${token}`;
  }
  // parseUrl: false, so a path prefix (a proxy's /couch) is never mistaken for a database name.
  const server = nano({ url: endpoint.url, parseUrl: false, headers } as nano.Configuration);
  const relax = server.relax as unknown as (options: RelaxOptions) => Promise<Buffer | string | Record<string, string>>;

  return {
    endpoint,
    async request({ method = 'GET', db, path, qs, body, signal }: CouchRequest): Promise<JsonValue> {
      const timeout = AbortSignal.timeout(requestTimeoutMs);
      let answer: Buffer | string | Record<string, string>;
      try {
        answer = await relax({
          method,
          db,
          path,
          qs,
          body,
          dontStringify: body !== undefined,
          dontParse: true,
          signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        });
      } catch (error) {
        signal?.throwIfAborted();
        throw translate(error, timeout.aborted);
      }
      const text = Buffer.isBuffer(answer) ? answer.toString('utf8') : typeof answer === 'string' ? answer : '';
      return text === '' ? null : parseJson(text);
    },
  };
}

function translate(error: unknown, timedOut: boolean): Error {
  const e = error as { statusCode?: number; error?: string; reason?: string; message?: string };
  if (timedOut) return new CouchConnectionError('ETIMEDOUT', `no answer within ${requestTimeoutMs / 1000}s`);
  if (typeof e.statusCode === 'number') return new CouchHttpError(e.statusCode, e.error ?? '', e.reason ?? e.message ?? '');
  const message = e.message ?? String(error);
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
  return known[code] ?? message.replace(/^error happened in your connection\. Reason: /, '');
}

/**
 * Retries for the calls that open a run (listing, creating or reading a database): a server that
 * is not there at all should say so within seconds, not after the full budget meant for a server
 * that drops one request in the middle of a long import.
 */
export function setupRetries(retries: number): number {
  return Math.min(retries, 3);
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
  return fatalError('couchdb-failed', redact(`CouchDB at ${endpoint.hostPort} failed for ${doing}: ${message}`), error);
}
