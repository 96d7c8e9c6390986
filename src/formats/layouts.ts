/**
 * Writing the two export formats, piece by piece as a run hands over documents: the header once,
 * each collection's opening, its documents, the ending.
 *
 * The JSON export is what export.py writes and import.py's `json.load` reads (indent 2), except
 * that `metadata` comes after `data`: its collection list is known only at the end, and holding
 * the data back to write it first would defeat streaming. Our own reader accepts any key order.
 * NDJSON is one `{"collection", "doc"}` object a line, a deletion one `{"collection", "deleted"}`
 * line (a tombstone: a change log's), see ndjson-reader.ts. Documents go through
 * stringifyExact, so ExactNumber digits come out as they went in.
 */
import type { Doc } from '../types.js';
import { stringifyExact } from './serialize.js';

/** Writes one format: the header once, a collection's opening, its documents, the ending. */
export interface Layout {
  /** Collections may come in any order, each line naming its own (NDJSON); the JSON export takes each one's documents in one run. */
  interleaves: boolean;
  start(): string;
  collection(name: string, first: boolean, previousHadDocs: boolean | undefined): string;
  docs(collection: string, docs: Doc[], firstInCollection: boolean): string;
  end(metadata: object, lastHadDocs: boolean | undefined): string;
  /** Lines removing these `_id`s (tombstones); absent where the format has none (the JSON export). */
  deletes?(collection: string, ids: readonly string[]): string;
}

const docIndent = '\n      ';

export const exportLayout: Layout = {
  interleaves: false,
  start: () => '{\n  "data": {',
  collection: (name, first, previousHadDocs) => `${closeArray(previousHadDocs)}${first ? '' : ','}\n    ${JSON.stringify(name)}: [`,
  docs: (_collection, docs, firstInCollection) => {
    let text = '';
    for (let i = 0; i < docs.length; i++) {
      text += (firstInCollection && i === 0 ? docIndent : `,${docIndent}`) + stringifyExact(docs[i], 2).replace(/\n/g, docIndent);
    }
    return text;
  },
  end: (metadata, lastHadDocs) =>
    `${closeArray(lastHadDocs)}${lastHadDocs === undefined ? '},' : '\n  },'}\n  "metadata": ${JSON.stringify(metadata, null, 2).replace(/\n/g, '\n  ')}\n}\n`,
};

/** `]` after a collection's array: on its own line after documents, straight after `[` when empty. */
function closeArray(hadDocs: boolean | undefined): string {
  if (hadDocs === undefined) return '';
  return hadDocs ? '\n    ]' : ']';
}

export const ndjsonLayout: Layout = {
  interleaves: true,
  start: () => '',
  collection: (name) => `${JSON.stringify({ collection: name })}\n`,
  docs: (collection, docs) => collectionLines(collection, 'doc', docs),
  end: (metadata) => `${JSON.stringify({ metadata })}\n`,
  deletes: (collection, ids) => collectionLines(collection, 'deleted', ids),
};

/** One line a value: `{"collection":"<name>","<key>":<value>}`. */
function collectionLines(collection: string, key: string, values: readonly unknown[]): string {
  const prefix = `{"collection":${JSON.stringify(collection)},${JSON.stringify(key)}:`;
  let text = '';
  for (const value of values) text += `${prefix}${stringifyExact(value)}}\n`;
  return text;
}
