/**
 * One export from the part files of a run's shards (`--workers` to a file target): each shard wrote
 * its share, uncompressed, in the target's layout; here they become the named file, collection by
 * collection, as one process would have written it. Documents are copied as bytes (never parsed),
 * streamed: a part is never held in memory. The target is written like any export (0600, a temp name
 * renamed when complete, gzip when its name says so), and the parts are removed however it ends.
 */
import { createReadStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { type FileFormat, formatFromName } from '../../formats/file-name.js';
import { exportLayout, ndjsonLayout } from '../../formats/layouts.js';
import { metadataOf, sectionHeadBytes, sectionLine } from '../../formats/layout-sections.js';
import { fatalError } from '../../errors.js';
import { isStdioName } from '../../util/stdio-name.js';
import { type FileOutput, openOutput, type Output, tempPathOf } from './output.js';

/** A collection's document bytes in one part: [start, end). */
interface Section {
  name: string;
  part: string;
  start: number;
  end: number;
}

const newline = 0x0a;

/**
 * Byte patterns that occur only in the structural lines of a layout (see formats/layout-sections.ts):
 * export collection lines are indented exactly 4 (documents 6 or more), the metadata 2; an NDJSON
 * announcement is the only line that ends `"}` (a document line ends `}}`).
 */
const patterns: Record<FileFormat, Buffer[]> = {
  json: ['\n    "', '\n    ]', '\n  "metadata":'].map((p) => Buffer.from(p)),
  ndjson: ['"}\n', '\n{"metadata":'].map((p) => Buffer.from(p)),
};

/**
 * Calls `onLine` for every structural line of a part in `format` (and perhaps a few others, which
 * sectionLine then ignores), with its offsets and its first bytes, reading the file once in flat
 * memory. The patterns are found by Buffer.indexOf, so the documents' bytes are never looked at in
 * JavaScript.
 */
async function eachStructuralLine(path: string, format: FileFormat, onLine: (start: number, end: number, head: string) => void): Promise<void> {
  // Every buffer searched begins with the newline before its first line (a virtual one before the file).
  let carry = Buffer.from('\n');
  let base = -1;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    const buffer = Buffer.concat([carry, chunk]);
    const last = buffer.lastIndexOf(newline);
    // Only whole lines: up to and including the last newline; the rest waits for the next chunk.
    const whole = buffer.subarray(0, last + 1);
    const starts = new Set<number>();
    for (const pattern of patterns[format]) {
      for (let at = whole.indexOf(pattern); at !== -1; at = whole.indexOf(pattern, at + 1)) {
        starts.add(pattern[0] === newline ? at + 1 : whole.lastIndexOf(newline, at) + 1);
      }
    }
    for (const start of [...starts].sort((a, b) => a - b)) {
      const end = whole.indexOf(newline, start);
      onLine(base + start, base + end, whole.toString('utf8', start, Math.min(end, start + sectionHeadBytes)));
    }
    carry = buffer.subarray(last);
    base += last;
  }
  if (carry.length > 1) {
    const end = base + carry.length;
    onLine(base + 1, end, carry.toString('utf8', 1, Math.min(carry.length, 1 + sectionHeadBytes)));
  }
}

/** The sections of a part, in order, and the offset of its metadata. */
async function sectionsOf(part: string, format: FileFormat): Promise<{ sections: Section[]; metadataAt: number }> {
  const sections: Section[] = [];
  let open: Section | undefined;
  let metadataAt: number | undefined;
  await eachStructuralLine(part, format, (start, end, head) => {
    // The metadata is last, and its own lines are no collections.
    if (metadataAt !== undefined) return;
    const line = sectionLine(format, head);
    if (!line) return;
    if (line.kind === 'close' && open) {
      // The documents end at the newline before `    ]`.
      open.end = start - 1;
      open = undefined;
      return;
    }
    // NDJSON: a collection's lines end where the next announcement (or the metadata) begins.
    if (format === 'ndjson' && open) open.end = start;
    open = undefined;
    if (line.kind === 'metadata') metadataAt = start;
    else if (line.kind === 'open') {
      // Export: from the newline after `[` (the first document's own line break); NDJSON: the next line.
      const from = format === 'json' ? end : end + 1;
      const section = { name: line.name, part, start: from, end: from };
      sections.push(section);
      if (!line.empty) open = section;
    }
  });
  if (metadataAt === undefined) throw fatalError('write-failed', `${part}: a shard's part has no metadata: it was not written whole`);
  return { sections, metadataAt };
}

async function readTail(path: string, from: number): Promise<string> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const buffer = Buffer.alloc(size - from);
    await handle.read(buffer, 0, buffer.length, from);
    return buffer.toString('utf8');
  } finally {
    await handle.close();
  }
}

/** A run of a part's bytes to copy as they are. */
interface Piece {
  part: string;
  start: number;
  end: number;
}

const tailBytes = 1 << 16;

/**
 * NDJSON parts whose collections follow one another from part to part (a byte-range split: at most
 * the last collection of a part goes on in the next), told from each part's first and last lines
 * only: then the join is the parts themselves, each without its metadata line, and without its first
 * line where it announces the collection the previous part ended with. Undefined otherwise (a hash
 * or line split, where every part holds every collection), or where a line is too long to tell.
 */
async function ndjsonInOrder(parts: readonly string[]): Promise<{ pieces: Piece[]; collections: string[]; provider?: string } | undefined> {
  const pieces: Piece[] = [];
  const collections: string[] = [];
  let provider: string | undefined;
  for (const part of parts) {
    const handle = await open(part, 'r');
    let head: Buffer;
    let tail: Buffer;
    let size: number;
    try {
      size = (await handle.stat()).size;
      head = Buffer.alloc(Math.min(size, tailBytes));
      await handle.read(head, 0, head.length, 0);
      tail = Buffer.alloc(Math.min(size, tailBytes));
      await handle.read(tail, 0, tail.length, size - tail.length);
    } finally {
      await handle.close();
    }
    // The metadata line is the last; the one before it ends where it begins.
    const lineBreak = tail.lastIndexOf(newline, tail.length - 2);
    if (lineBreak === -1 && tail.length < size) return undefined;
    const metadataAt = size - tail.length + lineBreak + 1;
    const metadata = metadataOf('ndjson', tail.toString('utf8', lineBreak + 1));
    provider ??= metadata.provider;
    const own = metadata.collections ?? [];
    let start = 0;
    if (own.length > 0 && own[0] === collections.at(-1)) {
      // The collection goes on from the previous part: its announcement here is not repeated.
      const firstLine = head.indexOf(newline);
      if (firstLine === -1) return undefined;
      start = firstLine + 1;
      own.shift();
    }
    if (own.some((name) => collections.includes(name))) return undefined;
    collections.push(...own);
    if (metadataAt > start) pieces.push({ part, start, end: metadataAt });
  }
  return { pieces, collections, provider };
}

async function copyRange(out: Output, path: string, start: number, end: number): Promise<void> {
  for await (const chunk of createReadStream(path, { start, end: end - 1, highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) await out.write(chunk);
}

/** Where the joined export goes: stdout for `-` (and its format-suffixed forms), else the path. */
function outputOf(target: string): FileOutput {
  return isStdioName(target) ? { stream: process.stdout, name: 'stdout', owns: false } : { path: target };
}

/**
 * Removes what the processes `pids` may have left of the parts: the parts, and a part's temp file
 * where its process was killed before it could clean up.
 */
export async function removeParts(parts: readonly string[], pids: readonly number[]): Promise<void> {
  await Promise.all(parts.flatMap((part) => [part, ...pids.map((pid) => tempPathOf(part, pid))]).map((path) => rm(path, { force: true })));
}

/**
 * Writes `target` (a file sink's path: its name gives gzip) in `format` from the parts, in shard
 * order: each collection's documents from every part that has some, the metadata once, listing
 * every collection. Removes the parts, complete or not; on failure no target is left.
 */
export async function joinParts(target: string, format: FileFormat, parts: readonly string[]): Promise<void> {
  let out: Output | undefined;
  try {
    const inOrder = format === 'ndjson' ? await ndjsonInOrder(parts) : undefined;
    if (inOrder) {
      out = await openOutput(outputOf(target), formatFromName(target).gzip);
      for (const piece of inOrder.pieces) await copyRange(out, piece.part, piece.start, piece.end);
      await out.write(ndjsonLayout.end({ provider: inOrder.provider ?? 'unknown', exported_at: new Date().toISOString(), collections: inOrder.collections }, undefined));
      const finished = out;
      out = undefined;
      return await finished.close(true);
    }
    const scanned = await Promise.all(parts.map((part) => sectionsOf(part, format)));
    const collections = new Map<string, Section[]>();
    for (const { sections } of scanned) for (const s of sections) collections.set(s.name, [...(collections.get(s.name) ?? []), s]);
    const first = metadataOf(format, await readTail(parts[0]!, scanned[0]!.metadataAt));
    const layout = format === 'ndjson' ? ndjsonLayout : exportLayout;
    out = await openOutput(outputOf(target), formatFromName(target).gzip);
    await out.write(layout.start());
    let previousHadDocs: boolean | undefined;
    for (const [name, sections] of collections) {
      await out.write(layout.collection(name, previousHadDocs === undefined, previousHadDocs));
      let hadDocs = false;
      for (const s of sections) {
        if (s.end <= s.start) continue;
        // Export documents are separated by commas: a part's first one follows the previous part's last.
        if (format === 'json' && hadDocs) await out.write(',');
        await copyRange(out, s.part, s.start, s.end);
        hadDocs = true;
      }
      previousHadDocs = hadDocs;
    }
    const metadata = { provider: first.provider ?? 'unknown', exported_at: new Date().toISOString(), collections: [...collections.keys()] };
    await out.write(layout.end(metadata, previousHadDocs));
    const finished = out;
    out = undefined;
    await finished.close(true);
  } finally {
    await out?.close(false).catch(() => undefined);
    await Promise.all(parts.map((part) => rm(part, { force: true })));
  }
}
