import type { Doc } from '../types.js';

/**
 * Drops CouchDB's own fields (`_rev`, `_attachments`), as the seed's migrate.py did: another store
 * has no use for a revision, and CouchDB rejects a `_rev` it did not issue. `_revisions`, the
 * revision history a couchbackup file (full mode) carries, goes the same way.
 */
export default function stripCouchMeta(doc: Doc): Doc {
  // `delete` only when present: deleting turns V8's fast objects into slow dictionaries.
  if (doc._rev !== undefined) delete doc._rev;
  if (doc._revisions !== undefined) delete doc._revisions;
  if (doc._attachments !== undefined) delete doc._attachments;
  return doc;
}
