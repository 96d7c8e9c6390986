/**
 * Where a CouchDB is and who we are to it, from a `couchdb…` URI or Gofannon's own variables
 * (COUCHDB_URL, COUCHDB_USER, COUCHDB_PASSWORD). Source and sink both resolve through here, so the
 * two can never read the configuration differently.
 */
import { usageError } from '../../errors.js';
import { registerSecret } from '../../util/redact.js';
import type { ParsedUri } from '../../types.js';

export interface CouchEndpoint {
  /** Server URL without credentials and without a trailing slash (may carry a path prefix). */
  url: string;
  user?: string;
  password?: string;
  /** `host:port`, for one-line error messages. */
  hostPort: string;
  /** Display name, password masked: `couchdb://admin:***@db:5984`. */
  label: string;
  /** Checkpoint identity: the server, without any credential. */
  identity: string;
}

/**
 * Accepted forms: `couchdb` (COUCHDB_URL), `couchdb://user:pass@host:port` (http),
 * `couchdbs://…` (https), and `couchdb:http(s)://…` for a full URL.
 */
export function resolveEndpoint(uri: ParsedUri, env: NodeJS.ProcessEnv): CouchEndpoint {
  const raw = serverUrl(uri, env);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw usageError('couchdb-url', `cannot read "${redactedForm(raw)}" as a CouchDB URL (expected e.g. couchdb://host:5984)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw usageError('couchdb-url', `CouchDB URL must be http or https, not ${url.protocol.replace(':', '')}`);
  }
  // As the app: COUCHDB_USER / COUCHDB_PASSWORD win over credentials written in COUCHDB_URL. A URI
  // typed in the command is the operator's explicit choice: its own win, the variables fill in.
  const inUrl = { user: url.username ? decodeURIComponent(url.username) : undefined, password: url.password ? decodeURIComponent(url.password) : undefined };
  const inEnv = { user: env.COUCHDB_USER || undefined, password: env.COUCHDB_PASSWORD || undefined };
  const [first, second] = uri.rest.trim() === '' ? [inEnv, inUrl] : [inUrl, inEnv];
  const user = first.user ?? second.user;
  const password = first.password ?? second.password;
  registerSecret(inUrl.password);
  registerSecret(inEnv.password);
  url.username = '';
  url.password = '';
  url.search = '';
  url.hash = '';
  const https = url.protocol === 'https:';
  const hostPort = `${url.hostname}:${url.port || (https ? 443 : 80)}`;
  const path = url.pathname.replace(/\/+$/, '');
  const credentials = user ? `${encodeURIComponent(user)}${password ? ':***' : ''}@` : '';
  return {
    url: `${url.origin}${path}`,
    user,
    password,
    hostPort,
    label: `${https ? 'couchdbs' : 'couchdb'}://${credentials}${url.host}${path}`,
    identity: `couchdb:${url.origin}${path}`,
  };
}

function serverUrl(uri: ParsedUri, env: NodeJS.ProcessEnv): string {
  const rest = uri.rest.trim();
  if (rest === '') {
    if (!env.COUCHDB_URL) {
      throw usageError('couchdb-url', `${uri.scheme} needs a server: set COUCHDB_URL (e.g. http://localhost:5984) or write ${uri.scheme}://host:5984`);
    }
    return env.COUCHDB_URL;
  }
  if (rest.startsWith('//')) return `${uri.scheme === 'couchdbs' ? 'https' : 'http'}:${rest}`;
  if (/^https?:\/\//i.test(rest)) return rest;
  throw usageError('couchdb-url', `cannot read "${redactedForm(uri.raw)}" as a CouchDB server: write couchdb://host:5984 or couchdb:https://host`);
}

/** Masks anything between `:` and `@` so a malformed URL with a password never reaches a message. */
function redactedForm(text: string): string {
  return text.replace(/:[^:@/]*@/, ':***@');
}
