/**
 * Reading back the structure of a file our own layouts (layouts.ts) wrote, line by line, without
 * parsing its documents: where each collection's documents begin and end, and where the metadata
 * is. This is what lets `--workers` join its shards' part files into one export by copying bytes.
 *
 * It relies on how the layouts write, never on guessing: JSON text has no raw newline inside a
 * string, so a line break is always structure. In the export layout every document line is
 * indented 6 spaces or more, and only the collection lines (`    "name": [`, `    ]`) are indented
 * exactly 4; in NDJSON a collection is announced by a line `{"collection":NAME}` before its
 * documents, and the metadata is the last line.
 */
import type { FileFormat } from './file-name.js';

/** What a structural line says; document lines (and the export's fixed lines) say nothing. */
export type SectionLine =
  /** A collection begins; `empty`: the export layout's `"name": []`, all on its line. */
  | { kind: 'open'; name: string; empty: boolean }
  /** The export layout's `    ]` closing the open collection's documents. */
  | { kind: 'close' }
  /** The metadata: from this line to the end of the file. */
  | { kind: 'metadata' };

/** Bytes of a line's beginning that tell what it is (a collection name is far shorter). */
export const sectionHeadBytes = 1024;

const jsonString = String.raw`"(?:[^"\\]|\\.)*"`;
const exportOpen = new RegExp(String.raw`^    (${jsonString}): \[(\])?,?$`);
const exportClose = /^ {4}\],?$/;
const ndjsonAnnounce = new RegExp(String.raw`^\{"collection":(${jsonString})\}$`);

/** Classifies one line (its first sectionHeadBytes bytes, without the newline) of a file in `format`. */
export function sectionLine(format: FileFormat, head: string): SectionLine | undefined {
  if (format === 'ndjson') {
    if (head.startsWith('{"metadata":')) return { kind: 'metadata' };
    const announced = ndjsonAnnounce.exec(head);
    return announced ? { kind: 'open', name: JSON.parse(announced[1]!) as string, empty: false } : undefined;
  }
  // Document lines, the most common, are indented deeper: decided on the fifth character.
  if (head.startsWith('     ')) return undefined;
  if (head.startsWith('  "metadata":')) return { kind: 'metadata' };
  const opened = exportOpen.exec(head);
  if (opened) return { kind: 'open', name: JSON.parse(opened[1]!) as string, empty: opened[2] === ']' };
  return exportClose.test(head) ? { kind: 'close' } : undefined;
}

/** The metadata object from a file's tail, as found at its `metadata` line. */
export function metadataOf(format: FileFormat, tail: string): { provider?: string; collections?: string[] } {
  const parsed = JSON.parse(format === 'ndjson' ? tail : `{${tail}`) as { metadata: { provider?: string; collections?: string[] } };
  return parsed.metadata;
}
