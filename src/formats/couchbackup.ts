/**
 * IBM couchbackup files (`couchbackup --db agents > agents.txt`), full or shallow mode: a header line
 * `{"name":"@cloudant/couchbackup","version":…,"mode":…}` (since 2.10; older files start straight
 * with the data), then one JSON array of documents a line, as couchbackup fetched them in batches.
 * One database a file, so one collection.
 *
 * Documents come as CouchDB held them: `_rev` and, in full mode, `_revisions` (the default transform
 * strip-couch-meta drops both); `_design/` documents are skipped unless --include-design, as the
 * CouchDB source does; a deleted document's tombstone (`_deleted: true`) is no document and is
 * skipped; `_attachments` (with `--attachments`, inline) are counted in a warning.
 */
import type { SourceChunk } from '../types.js';
import { ExactNumber } from './exact-number.js';
import { InputError } from './export-reader.js';
import { ChunkBuilder, oneCollection, type ForeignReadOptions } from './foreign-chunks.js';
import { readJsonLines } from './json-lines.js';

const headerName = '@cloudant/couchbackup';

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof ExactNumber);

export async function* readCouchbackup(input: AsyncIterable<Buffer>, options: ForeignReadOptions): AsyncGenerator<SourceChunk> {
  const { name } = options;
  const collection = oneCollection(options);
  const chunks = new ChunkBuilder('couchbackup', options);
  let withAttachments = 0;
  let first = true;
  chunks.announce(collection);
  for await (const lines of readJsonLines(input, { signal: options.signal, collection })) {
    for (const { value, number, start } of lines) {
      const header = first && isObject(value) && value.name === headerName;
      first = false;
      if (header) continue;
      if (!Array.isArray(value)) {
        throw new InputError(`line ${number}: expected a JSON array of documents (couchbackup writes one a line)`, start, collection);
      }
      for (const doc of value) {
        if (!chunks.next(collection)) continue;
        if (isObject(doc) && (doc._deleted === true || (!options.includeDesign && typeof doc._id === 'string' && doc._id.startsWith('_design/')))) continue;
        if (isObject(doc) && doc._attachments !== undefined) withAttachments++;
        chunks.add(doc, `${name} line ${number}`);
      }
    }
    yield* chunks.take();
  }
  yield* chunks.end();
  if (withAttachments > 0) {
    options.warn(`${name}: ${withAttachments} document${withAttachments === 1 ? '' : 's'} had attachments; strip-couch-meta drops _attachments unless --keep-couch-meta`);
  }
}
