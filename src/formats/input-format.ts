/**
 * The formats a file source reads, and recognising other tools' backups by their first bytes, so a
 * user points `--from` at what they have, whatever its name (`--format` forces one).
 *
 * Ours: `json` (export.py's export) and `ndjson`. Other tools': `couchbackup` (IBM couchbackup's
 * header line, then one JSON array of documents a line), `dynamodb-export` (an export-to-S3 folder;
 * its manifest-summary.json and data files are recognised), `firestore-export` (node-firestore-import-export's
 * nested `__collections__`), `array` (a top-level JSON array of documents).
 */
export const ownFormats = ['json', 'ndjson'] as const;
export const foreignFormats = ['couchbackup', 'dynamodb-export', 'firestore-export', 'array'] as const;
export const inputFormats = [...ownFormats, ...foreignFormats] as const;

export type ForeignFormat = (typeof foreignFormats)[number];
export type InputFormat = (typeof inputFormats)[number];

export function isForeignFormat(format: string | undefined): format is ForeignFormat {
  return (foreignFormats as readonly string[]).includes(format ?? '');
}

export function isInputFormat(format: string | undefined): format is InputFormat {
  return (inputFormats as readonly string[]).includes(format ?? '');
}

/** What each foreign format holds, for messages and the export metadata of what we write from it. */
export const foreignProvider: Record<ForeignFormat, string> = {
  couchbackup: 'couchdb',
  'dynamodb-export': 'dynamodb',
  'firestore-export': 'firestore',
  array: 'file',
};

/** Formats whose file holds one collection, named after the file (or `--collection-name`). */
export function holdsOneCollection(format: ForeignFormat): boolean {
  return format !== 'firestore-export';
}

/** A JSON value parsed from a head line, or undefined when the line is not complete JSON. */
function parsedLine(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * The foreign format these first bytes (decompressed) begin, or undefined for ours or unknown.
 * Only what cannot be one of our formats is claimed: our export starts with `{"metadata"` or
 * `{"data"`, our NDJSON with `{"collection"` or `{"metadata"`.
 */
export function sniffForeign(head: Buffer): ForeignFormat | undefined {
  const text = head.toString('utf8').replace(/^\uFEFF/, '');
  const start = text.search(/\S/);
  if (start < 0) return undefined;
  const lineEnd = text.indexOf('\n', start);
  const first = parsedLine(text.slice(start, lineEnd < 0 ? undefined : lineEnd));
  if (isObject(first) && first.name === '@cloudant/couchbackup') return 'couchbackup';
  if (text[start] === '[') {
    // couchbackup before its header line (2.10) wrote only the arrays, one a line: CouchDB documents
    // carry `_rev`, a plain array of documents need not.
    if (Array.isArray(first) && isObject(first[0]) && typeof first[0]._rev === 'string') return 'couchbackup';
    return 'array';
  }
  if (text[start] !== '{') return undefined;
  // An export's manifest-summary.json, or one of its data files (`{"Item": …}` a line): part of a
  // DynamoDB export, which is read as its folder.
  if (isObject(first) && (typeof first.exportArn === 'string' || typeof first.manifestFilesS3Key === 'string')) return 'dynamodb-export';
  if (isObject(first) && isObject(first.Item) && Object.keys(first).length === 1) return 'dynamodb-export';
  const firstKey = /^\{\s*"((?:[^"\\]|\\.)*)"\s*:/.exec(text.slice(start))?.[1];
  if (firstKey === '__collections__') return 'firestore-export';
  // A collection exported on its own (`--nodePath collection`): documents keyed by id, each with
  // its `__collections__` (the tool writes one for every document, even when empty).
  if (firstKey !== undefined && !['metadata', 'data', 'collection'].includes(firstKey) && /"__collections__"\s*:/.test(text)) return 'firestore-export';
  return undefined;
}
