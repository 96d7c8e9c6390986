/**
 * Writes collections into CouchDB, one database per collection, through `_bulk_docs`.
 *
 * CouchDB answers a bulk post document by document: each answer is read on its own, conflicts
 * follow --on-conflict (overwrite fetches the current revisions of all conflicted ids in one
 * request and posts them again), other rejections are dead-lettered with CouchDB's reason. A whole
 * request that fails transiently (429, 5xx, dropped connection) is retried with backoff; documents
 * still unwritten when the budget is spent are reported failed, never dropped. Deletions (`remove`,
 * for --follow) go the same way, as `_deleted` revisions.
 */
import {
  CouchConnectionError,
  CouchHttpError,
  fatalCouchError,
  isTransientCouchError,
  isTransientDatabaseCall,
  openCouch,
  type CouchClient,
} from '../stores/couchdb/client.js';
import { documentJson, rejectionReason, withRevision } from '../stores/couchdb/documents.js';
import { databaseIds } from '../stores/couchdb/ids.js';
import { resolveEndpoint } from '../stores/couchdb/endpoint.js';
import { assertDatabaseName } from '../stores/couchdb/names.js';
import { fatalError, isEtlError, messageOf, type EtlError } from '../errors.js';
import { conflictOutcome } from '../stores/common/conflict.js';
import { writeIsolating } from '../stores/common/isolate.js';
import { withRetry } from '../stores/common/retry.js';
import type { AdapterOptions, Doc, JsonValue, ParsedUri, Sink, WriteOutcome } from '../types.js';

// Measured with `npm run bench -- couchdb` on pouchdb-server (2 shared cores, medians of 5): 500
// docs per post with 4 in flight gave the highest raw ceiling (~12k docs/s, against ~9k with 2 and
// ~6k with 8, where posts only queue inside the single-threaded server).
const defaultBatchSize = 500;
const defaultConcurrency = 4;
// Someone writing the same ids concurrently can make an overwrite conflict again; give up after this many rounds.
const overwriteRounds = 5;

interface Pending {
  index: number;
  id: string;
  json: string;
}

/** CouchDB's answer for one document, or `failure` when the request carrying it never succeeded. */
interface DocResult {
  ok?: boolean;
  error?: string;
  reason?: string;
  failure?: string;
}

export default function couchdbSink(uri: ParsedUri, options: AdapterOptions): Sink {
  return createSink(openCouch(resolveEndpoint(uri, options.env)), options);
}

/** The sink on any CouchClient (a fake in unit tests). */
export function createSink(couch: CouchClient, options: AdapterOptions): Sink {
  const { endpoint } = couch;
  const prepared = new Set<string>();

  /**
   * Runs a request with the shared retry policy; a failure that outlives it is thrown as is. A
   * database call (read, create, the session) fails at once on a server that is not there.
   */
  const retried = <T>(run: () => Promise<T>, signal?: AbortSignal, transient = isTransientCouchError): Promise<T> =>
    withRetry(run, (error) => !signal?.aborted && transient(error), { retries: options.retries, signal });

  /** 'forbidden' when the user may not read the database (403: its _security leaves us out). */
  async function databaseState(db: string): Promise<'exists' | 'missing' | 'forbidden'> {
    try {
      await retried(() => couch.request({ db }), undefined, isTransientDatabaseCall);
      return 'exists';
    } catch (error) {
      if (error instanceof CouchHttpError && error.status === 404) return 'missing';
      if (error instanceof CouchHttpError && error.status === 403) return 'forbidden';
      throw fatalCouchError(error, endpoint, `reading database ${db}`);
    }
  }

  async function databaseExists(db: string): Promise<boolean> {
    const state = await databaseState(db);
    if (state === 'forbidden') throw fatalError('couchdb-auth', `CouchDB at ${endpoint.hostPort}: no access to database ${db}`);
    return state === 'exists';
  }

  /**
   * False only when CouchDB says for sure that we are not a server admin (only admins create
   * databases); any answer it cannot give leaves the check to prepare.
   */
  async function mayCreateDatabases(): Promise<boolean> {
    try {
      const session = (await retried(() => couch.request({ path: '_session' }), undefined, isTransientDatabaseCall)) as { userCtx?: { roles?: unknown } } | null;
      const roles = session?.userCtx?.roles;
      return !Array.isArray(roles) || roles.includes('_admin');
    } catch {
      return true;
    }
  }

  /** Every collection the run will write: a valid name, a database we may read, or the right to create it. */
  async function preflight(collections: readonly string[]): Promise<EtlError[]> {
    const problems: EtlError[] = [];
    const missing: string[] = [];
    for (const collection of collections) {
      try {
        assertDatabaseName(collection);
      } catch (error) {
        if (isEtlError(error)) problems.push(error);
        continue;
      }
      const state = await databaseState(collection);
      if (state === 'forbidden') problems.push(fatalError('couchdb-auth', `CouchDB at ${endpoint.hostPort}: user ${endpoint.user ?? '(none)'} has no access to database ${collection}`));
      if (state === 'missing') missing.push(collection);
    }
    if (missing.length > 0 && !(await mayCreateDatabases())) {
      for (const db of missing) {
        problems.push(fatalError('couchdb-auth', `CouchDB at ${endpoint.hostPort}: database ${db} does not exist and user ${endpoint.user ?? '(none)'} is not a server admin, who alone may create it`));
      }
    }
    return problems;
  }

  /**
   * `_bulk_docs` for the pending documents, answering per document. A whole request that fails
   * transiently is retried; one refused as a whole for a reason that is not transient (CouchDB
   * validates every document before writing any, so one bad document refuses them all) is split in
   * halves until the documents at fault stand alone, so the others are still written.
   */
  async function post(collection: string, pending: Pending[], signal: AbortSignal): Promise<DocResult[]> {
    const results: DocResult[] = new Array(pending.length);
    const positions = pending.map((_, position) => position);
    await writeIsolating(
      positions,
      async (part) => {
        const answers = await postOnce(collection, part.map((position) => pending[position]!), signal);
        part.forEach((position, k) => (results[position] = answers[k]!));
      },
      (error) => !signal.aborted && !isEtlError(error),
      (position, error) => (results[position] = error instanceof CouchHttpError ? { error: error.error || String(error.status), reason: error.reason } : { failure: messageOf(error) }),
    );
    return results;
  }

  /**
   * One `_bulk_docs` request, retried while it fails transiently; documents get a failure once the
   * budget is spent. The target failing as a whole (unreachable, credentials, no database) is thrown
   * as fatal; any other refusal is thrown for `post` to pin on one document.
   */
  async function postOnce(collection: string, pending: Pending[], signal: AbortSignal): Promise<DocResult[]> {
    const body = `{"docs":[${pending.map((p) => p.json).join(',')}]}`;
    try {
      const answer = await retried(() => couch.request({ method: 'POST', db: collection, path: '_bulk_docs', body, signal }), signal);
      if (Array.isArray(answer) && answer.length === pending.length) return answer as DocResult[];
      const got = Array.isArray(answer) ? `${answer.length} results for ${pending.length} documents` : 'no per-document results';
      return pending.map(() => ({ failure: `CouchDB answered _bulk_docs with ${got}` }));
    } catch (error) {
      signal.throwIfAborted();
      if (error instanceof CouchConnectionError && error.unreachable) throw fatalCouchError(error, endpoint, `writing to ${collection}`);
      if (error instanceof CouchHttpError && [401, 403, 404].includes(error.status)) {
        throw fatalCouchError(error, endpoint, `writing to ${collection}`);
      }
      if (isTransientCouchError(error)) {
        const failure = `${messageOf(error)} (gave up after ${options.retries + 1} attempts)`;
        return pending.map(() => ({ failure }));
      }
      throw error;
    }
  }

  /**
   * Current revisions of the given ids, in one request; ids CouchDB does not hold, or holds deleted,
   * have none (a write needs no revision to create a document over a deleted one).
   */
  async function currentRevisions(collection: string, ids: string[], signal: AbortSignal): Promise<Map<string, string>> {
    const body = JSON.stringify({ keys: ids });
    const answer = await retried(() => couch.request({ method: 'POST', db: collection, path: '_all_docs', body, signal }), signal);
    const revs = new Map<string, string>();
    const rows = ((answer as { rows?: JsonValue[] } | null)?.rows ?? []) as { key?: string; value?: { rev?: string; deleted?: boolean } }[];
    for (const row of rows) if (row.key !== undefined && row.value?.rev && !row.value.deleted) revs.set(row.key, row.value.rev);
    return revs;
  }

  /**
   * Deletes the documents CouchDB holds, each with its current revision. Deleted or never there
   * counts as removed; a document updated since its revision was read conflicts and is tried again
   * with the newer one, so the deletion wins over the concurrent write it saw.
   */
  async function remove(collection: string, ids: string[], signal: AbortSignal): Promise<WriteOutcome[]> {
    const outcomes: WriteOutcome[] = new Array(ids.length);
    let pending = ids.map((id, index) => ({ index, id }));
    for (let round = 0; pending.length > 0 && round < overwriteRounds; round++) {
      let revs: Map<string, string>;
      try {
        revs = await currentRevisions(collection, pending.map((p) => p.id), signal);
      } catch (error) {
        signal.throwIfAborted();
        // No such database: nothing in it to remove.
        if (error instanceof CouchHttpError && error.status === 404) revs = new Map();
        else {
          for (const p of pending) outcomes[p.index] = { status: 'failed', reason: `reading the current revision to delete it failed: ${messageOf(error)}` };
          return outcomes;
        }
      }
      const held = pending.filter((p) => revs.has(p.id));
      for (const p of pending) if (!revs.has(p.id)) outcomes[p.index] = { status: 'written' };
      const tombstones = held.map((p) => ({ ...p, json: JSON.stringify({ _id: p.id, _rev: revs.get(p.id), _deleted: true }) }));
      pending = [];
      if (tombstones.length === 0) break;
      const results = await post(collection, tombstones, signal);
      results.forEach((result, i) => {
        const p = tombstones[i]!;
        // not_found: deleted by someone else since its revision was read.
        if (result.ok || result.error === 'not_found') outcomes[p.index] = { status: 'written' };
        else if (result.error === 'conflict') pending.push(p);
        else if (result.failure !== undefined) outcomes[p.index] = { status: 'failed', reason: result.failure };
        else outcomes[p.index] = { status: 'failed', reason: `CouchDB refused the deletion: ${result.error ?? 'error'}: ${result.reason ?? 'no reason given'}` };
      });
    }
    for (const p of pending) {
      outcomes[p.index] = { status: 'failed', reason: `conflict: _id ${p.id} kept changing while being deleted (${overwriteRounds} attempts)` };
    }
    return outcomes;
  }

  return {
    label: endpoint.label,
    provider: 'couchdb',
    batchSize: options.batchSize ?? defaultBatchSize,
    concurrency: options.concurrency ?? defaultConcurrency,
    identity: async () => endpoint.identity,
    preflight,

    async prepare(collection) {
      assertDatabaseName(collection);
      if (prepared.has(collection)) return;
      try {
        await retried(() => couch.request({ method: 'PUT', db: collection }), undefined, isTransientDatabaseCall);
      } catch (error) {
        // 412: the database exists already, which is what we want.
        if (!(error instanceof CouchHttpError && error.status === 412)) throw fatalCouchError(error, endpoint, `creating database ${collection}`);
      }
      prepared.add(collection);
    },

    async wouldCreate(collection) {
      assertDatabaseName(collection);
      return (await databaseExists(collection)) ? undefined : `CouchDB database ${collection} at ${endpoint.hostPort}`;
    },

    check: (doc) => rejectionReason(doc),

    async write(collection: string, docs: Doc[], signal: AbortSignal): Promise<WriteOutcome[]> {
      const outcomes: WriteOutcome[] = new Array(docs.length);
      let pending: Pending[] = docs.map((doc, index) => ({ index, id: doc._id as string, json: documentJson(doc) }));
      for (let round = 0; pending.length > 0 && round < overwriteRounds; round++) {
        if (round > 0) {
          let revs: Map<string, string>;
          try {
            revs = await currentRevisions(collection, pending.map((p) => p.id), signal);
          } catch (error) {
            signal.throwIfAborted();
            for (const p of pending) outcomes[p.index] = { status: 'failed', reason: `conflict, and reading the current revision failed: ${messageOf(error)}` };
            pending = [];
            break;
          }
          pending = pending.map((p) => {
            const rev = revs.get(p.id);
            return rev === undefined ? p : { ...p, json: withRevision(documentJson(docs[p.index]!), rev) };
          });
        }
        const results = await post(collection, pending, signal);
        const conflicted: Pending[] = [];
        results.forEach((result, i) => {
          const p = pending[i]!;
          if (result.ok) outcomes[p.index] = { status: 'written' };
          else if (result.failure !== undefined) outcomes[p.index] = { status: 'failed', reason: result.failure };
          else if (result.error === 'conflict') {
            const conflict = conflictOutcome(options.onConflict, p.id);
            if (conflict) outcomes[p.index] = conflict;
            else conflicted.push(p);
          }
          else outcomes[p.index] = { status: 'failed', reason: `CouchDB rejected the document: ${result.error ?? 'error'}: ${result.reason ?? 'no reason given'}` };
        });
        pending = conflicted;
      }
      for (const p of pending) {
        outcomes[p.index] = { status: 'failed', reason: `conflict: _id ${p.id} kept changing while being overwritten (${overwriteRounds} attempts)` };
      }
      return outcomes;
    },

    remove,

    ids: (collection, signal) => databaseIds(couch, collection, (run) => retried(run, signal), signal),
    close: async () => {},
  };
}
