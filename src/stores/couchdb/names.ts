/** CouchDB's naming rules, checked before a request so a bad name fails with a clear line. */
import { usageError } from '../../errors.js';

// https://docs.couchdb.org/en/stable/api/database/common.html#put--db
const databaseName = /^[a-z][a-z0-9_$()+/-]*$/;
const maxDatabaseNameLength = 238;

/** System databases (`_users`, `_replicator`, `_global_changes`, …) hold CouchDB's state, not Gofannon's. */
export function isSystemDatabase(name: string): boolean {
  return name.startsWith('_');
}

/** Throws a usage error naming the collection when CouchDB could not hold it as a database. */
export function assertDatabaseName(collection: string): void {
  if (!databaseName.test(collection) || collection.length > maxDatabaseNameLength) {
    throw usageError(
      'couchdb-db-name',
      `collection "${collection}" cannot be a CouchDB database: names start with a lowercase letter and hold only a-z 0-9 _ $ ( ) + - / (at most ${maxDatabaseNameLength}); rename it with a transform`,
    );
  }
}

/** Design documents hold views and validation functions, not data. */
export function isDesignId(id: string): boolean {
  return id.startsWith('_design/');
}
