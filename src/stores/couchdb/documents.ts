/**
 * What CouchDB accepts as a document, and the JSON text we send for one. The text is produced once
 * per document (in `check`, which needs its size) and reused when the batch is posted.
 */
import { stringifyExact } from '../../formats/serialize.js';
import type { Doc } from '../../types.js';

/** CouchDB's `max_document_size` default (bytes). */
export const maxDocumentBytes = 8_000_000;

// Top-level `_` members CouchDB accepts on a write; it rejects any other as "Bad special document member".
const specialMembers = new Set(['_id', '_rev', '_deleted', '_attachments', '_revisions', '_conflicts', '_deleted_conflicts', '_local_seq', '_revs_info']);

const serialized = new WeakMap<Doc, string>();

/**
 * The document's JSON, exact numbers kept. An incoming `_rev` is left out: it names a revision in
 * another database and would make CouchDB see a conflict where there is none; the sink sets `_rev`
 * itself when it overwrites.
 */
export function documentJson(doc: Doc): string {
  let text = serialized.get(doc);
  if (text === undefined) {
    text = stringifyExact('_rev' in doc ? { ...doc, _rev: undefined } : doc);
    serialized.set(doc, text);
  }
  return text;
}

/** The same JSON with `_rev` as its first member (the text always starts with `{"_id"` or another member). */
export function withRevision(json: string, rev: string): string {
  return `{"_rev":${JSON.stringify(rev)},${json.slice(1)}`;
}

/** Why CouchDB would reject this document, or undefined when it would accept it. */
export function rejectionReason(doc: Doc): string | undefined {
  const id = doc._id;
  if (typeof id !== 'string' || id === '') return '_id must be a non-empty string for CouchDB';
  if (id.startsWith('_') && !id.startsWith('_design/') && !id.startsWith('_local/')) {
    return `_id "${id}" starts with "_", which CouchDB reserves (only _design/ and _local/ are allowed)`;
  }
  for (const key of Object.keys(doc)) {
    if (key.startsWith('_') && !specialMembers.has(key)) {
      return `top-level field "${key}" starts with "_", which CouchDB rejects (Bad special document member); rename it with a transform`;
    }
  }
  const json = documentJson(doc);
  // A UTF-16 unit is at most 3 UTF-8 bytes: only long texts need the exact byte count.
  if (json.length * 3 > maxDocumentBytes) {
    const bytes = Buffer.byteLength(json);
    if (bytes > maxDocumentBytes) return `document is ${bytes} bytes, over CouchDB's max_document_size of ${maxDocumentBytes}`;
  }
  return undefined;
}
