/**
 * An export's `metadata` object, found cheaply without reading the data: at the head of the file
 * (export.py writes it first) or at its tail (our sink writes it last, once the collection list is
 * known).
 */
import type { JsonValue } from '../types.js';
import { ExportScanner, ScanError } from './export-scanner.js';
import { parseJson } from './parse.js';

export interface ExportMetadata {
  provider?: string;
  collections?: string[];
  /**
   * A change log (`--follow` into a file): its lines are changes, to be applied in their order, so
   * it cannot be split by byte ranges (`--shard` then splits it by _id, keeping each document's
   * changes in one shard, in order).
   */
  changes?: boolean;
}

export function toMetadata(value: JsonValue): ExportMetadata | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const record = value as { [key: string]: JsonValue };
  const collections = Array.isArray(record.collections) && record.collections.every((c) => typeof c === 'string') ? (record.collections as string[]) : undefined;
  return { provider: typeof record.provider === 'string' ? record.provider : undefined, collections, ...(record.changes === true ? { changes: true } : {}) };
}

class Stop extends Error {}

/** Metadata when it comes before `data` within these first bytes of the file; undefined otherwise. */
export function metadataFromHead(head: Buffer): ExportMetadata | undefined {
  let found: ExportMetadata | undefined;
  const scanner = new ExportScanner({
    collection: () => {
      throw new Stop();
    },
    doc: () => {},
    unreadable: () => {},
    metadata: (bytes) => {
      found = toMetadata(parseJson(bytes.toString('utf8')));
      throw new Stop();
    },
  });
  try {
    scanner.push(head);
  } catch (error) {
    if (!(error instanceof Stop || error instanceof ScanError || error instanceof SyntaxError)) throw error;
  }
  return found;
}

/**
 * Metadata when it is the last top-level value of the file, given the file's last bytes: the
 * object after the last `"metadata":` must run to the final `}` of the file. A `"metadata":` inside
 * a document cannot pass that test, since at least one more bracket would close after it.
 */
export function metadataFromTail(tail: string): ExportMetadata | undefined {
  let key = -1;
  for (const match of tail.matchAll(/"metadata"\s*:/g)) key = match.index;
  if (key < 0) return undefined;
  const before = tail.slice(0, key).trimEnd();
  if (!before.endsWith(',') && !before.endsWith('{')) return undefined;
  const match = /^"metadata"\s*:\s*([\s\S]*)\}\s*$/.exec(tail.slice(key));
  if (!match) return undefined;
  try {
    return toMetadata(parseJson(match[1]!));
  } catch {
    return undefined;
  }
}
