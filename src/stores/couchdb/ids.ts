/**
 * The ids a database holds, page by page through `_all_docs` without the documents, for a change
 * feed that compares after a restart (Sink.ids). Design documents are the database's own, never a
 * source's document: they are left out, so such a comparison never deletes them. A database that
 * does not exist holds none.
 */
import type { JsonValue } from '../../types.js';
import { CouchHttpError, fatalCouchError, type CouchClient } from './client.js';
import { isDesignId } from './names.js';

export async function* databaseIds(
  couch: CouchClient,
  db: string,
  /** Runs a request under the sink's retry policy. */
  retried: (run: () => Promise<JsonValue>) => Promise<JsonValue>,
  signal: AbortSignal,
  pageSize = 1000,
): AsyncIterable<string[]> {
  let after: string | undefined;
  for (;;) {
    // Paged by start key (the last id again, skipped), never by a growing `skip`.
    const qs: Record<string, string | number> = after === undefined ? { limit: pageSize } : { limit: pageSize + 1, startkey: after };
    let answer: JsonValue;
    try {
      answer = await retried(() => couch.request({ db, path: '_all_docs', qs, signal }));
    } catch (error) {
      signal.throwIfAborted();
      if (error instanceof CouchHttpError && error.status === 404) return;
      throw fatalCouchError(error, couch.endpoint, `listing the ids of database ${db}`);
    }
    const rows = ((answer as { rows?: { id: string }[] } | null)?.rows ?? []).map((row) => row.id);
    const page = after === undefined ? rows : rows.filter((id) => id !== after);
    const ids = page.filter((id) => !isDesignId(id));
    if (ids.length > 0) yield ids;
    if (page.length < pageSize) return;
    after = page.at(-1);
  }
}
