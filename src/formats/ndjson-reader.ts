/**
 * Our NDJSON export format, one JSON object per line (blank lines ignored):
 *
 *   {"collection":"agents"}                      announces a collection (carried even when empty)
 *   {"collection":"agents","doc":{...}}          one document of it
 *   {"collection":"agents","deleted":"<_id>"}    a tombstone: that document was removed (a change log's)
 *   {"metadata":{"provider":...,"collections":[...]}}   optional, anywhere (our sink writes it last)
 *
 * A document or tombstone line for a collection not announced yet announces it too. Tombstones come
 * as chunks of `deletes` between the chunks of documents, in the order of the lines, so a change log
 * read back applies its changes in the order they happened. Lines are split on bytes
 * and each is decoded whole, so multi-byte characters are never cut. A line that is not valid UTF-8,
 * too deep or too large becomes an Unreadable document of its collection when the collection can
 * be told, and stops the run otherwise.
 */
import type { JsonValue, Position, SourceChunk } from '../types.js';
import { ExactNumber } from './exact-number.js';
import { type ExportMetadata, toMetadata } from './export-metadata.js';
import { InputError } from './export-reader.js';
import { maxDepth, maxDocumentBytes, tooLargeReason, Unreadable } from './limits.js';
import { JsonSyntaxError, parseJson, TooDeepError } from './parse.js';
import { invalidOffset, notUtf8Reason, Utf8Guard } from './utf8.js';

export interface NdjsonReadOptions {
  name: string;
  batchSize: number;
  collections?: ReadonlySet<string>;
  signal: AbortSignal;
  /** Where to start: decompressed offset of a line start and its 1-based line number (unknown inside a shard's byte range). */
  resume?: { offset: number; line?: number; collection: string };
  /** A shard's share (see NdjsonShare); the whole input when absent. */
  share?: NdjsonShare;
  /**
   * The collections the file's metadata line lists, when the source listed them from it: a line of
   * any other collection means the list is wrong (files concatenated, each with its own metadata),
   * and since the run chose what to read from that list, reading on would quietly leave collections out.
   */
  listed?: ReadonlySet<string>;
  onMetadata(metadata: ExportMetadata): void;
}

/**
 * A shard's lines. By bytes (a plain file, read from `from`): the lines that start in [from, end);
 * with `align` the input begins one byte before `from`, inside a line that belongs to the shard
 * before unless that byte is a newline, and is skipped to the next line start. Line numbers are
 * then unknown (counting them would read the whole file before the range): error lines and
 * positions name byte offsets. By line (a gzipped file, read from its start): the lines whose
 * number is `index` modulo `count`, the others skipped without being parsed.
 */
export type NdjsonShare = { from: number; end: number; align: boolean } | { index: number; count: number };

const chunkBytes = 1 << 20;

export async function* readNdjson(input: AsyncIterable<Buffer>, options: NdjsonReadOptions): AsyncGenerator<SourceChunk> {
  const { name, batchSize, collections, share } = options;
  const byBytes = share && 'end' in share ? share : undefined;
  const byLine = share && 'count' in share ? share : undefined;
  // Inside a byte range the lines before it were never counted.
  const numbered = !byBytes || (byBytes.from === 0 && !options.resume) || options.resume?.line !== undefined;
  /** How error lines and dead letters name a line: its number, else its first byte's offset. */
  const lineName = (number: number, start: number) => (numbered ? `line ${number}` : `byte ${start}`);
  const ready: SourceChunk[] = [];
  // Collections seen so far: only names, a handful per file.
  const announced = new Set<string>(options.resume ? [options.resume.collection] : []);
  let collection = options.resume?.collection ?? '';
  // What is pending for `collection`: documents or tombstones, never both (a switch flushes, keeping order).
  let docs: unknown[] = [];
  let deletes: string[] = [];
  let lines: string[] = [];
  let bytes = 0;
  let next = { offset: options.resume?.offset ?? (byBytes ? byBytes.from : 0), line: options.resume?.line ?? 1 };
  /** `{format: 'ndjson', offset, line, collection}`: the next line's offset and number (the number only when known). */
  const positionAt = (at: { offset: number; line: number }, of: string): Position =>
    numbered ? { format: 'ndjson', offset: at.offset, line: at.line, collection: of } : { format: 'ndjson', offset: at.offset, collection: of };

  const flush = () => {
    if (docs.length === 0 && deletes.length === 0) return;
    const at = lines;
    const position = positionAt(next, collection);
    const where = (index: number) => `${name} ${at[index]}`;
    ready.push(deletes.length > 0 ? { collection, docs: [], deletes, position, where } : { collection, docs, position, where });
    docs = [];
    deletes = [];
    lines = [];
    bytes = 0;
  };

  /** A line whose document cannot be read: dead-lettered in its collection, or the run stops when that cannot be told. */
  const unreadable = (what: string, at: number | undefined, told: Told, raw: Buffer | undefined, start: number, number: number, end: number) => {
    // A tombstone is applied, never dead-lettered: one that cannot be read stops the run.
    if (told.collection === undefined || told.tombstone) {
      throw new InputError(numberedReason(number, `${told.tombstone ? 'tombstone ' : ''}${what}`), at ?? start, told.collection ?? (collection || undefined));
    }
    const reason = at === undefined ? what : `${what} at byte ${at}`;
    place(told.collection, { doc: new Unreadable(reason, told.id, raw && Buffer.from(raw)) }, raw?.length ?? 0, start, number, end);
  };

  // Without line numbers the reason is bare: the error line adds the byte, and the line counted from the file.
  function numberedReason(number: number, reason: string): string {
    return numbered ? `line ${number}: ${reason}` : reason;
  }

  const line = (raw: Buffer, start: number, number: number, end: number) => {
    if (!utf8.valid(raw, start)) {
      return unreadable(notUtf8Reason, invalidOffset(raw, start), tell(raw.toString('utf8')), raw, start, number, end);
    }
    const text = raw.toString('utf8');
    if (text.trim() === '') return;
    let parsed: JsonValue;
    try {
      // The document sits one level inside its line.
      parsed = parseJson(text, maxDepth + 1);
    } catch (error) {
      if (error instanceof TooDeepError) return unreadable(error.reason, undefined, tell(text), raw, start, number, end);
      if (!(error instanceof JsonSyntaxError)) throw error;
      throw new InputError(numberedReason(number, error.reason), start + Buffer.byteLength(text.slice(0, error.position)), collection || undefined);
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed) || parsed instanceof ExactNumber) {
      throw new InputError(numberedReason(number, 'expected an object like {"collection":…,"doc":…}'), start, collection || undefined);
    }
    const value = parsed;
    if (typeof value.collection !== 'string') {
      if (!('metadata' in value)) throw new InputError(numberedReason(number, 'no "collection" name'), start, collection || undefined);
      const metadata = toMetadata(value.metadata!);
      if (metadata) options.onMetadata(metadata);
      return;
    }
    const fail = (reason: string) => {
      throw new InputError(numberedReason(number, reason), start, value.collection as string);
    };
    if ('deleted' in value) {
      if ('doc' in value) fail('both "doc" and "deleted": a line is a document or a tombstone');
      if (typeof value.deleted !== 'string' || value.deleted === '') fail(`"deleted" must be the removed document's _id, a non-empty string, not ${describeValue(value.deleted!)}`);
      // Without its first line saying it is a change log, the file was split by lines: its changes would be applied out of order.
      if (share) fail('a tombstone in a share of a file split by lines: a change log is applied in order, so its first line must be {"metadata":{"changes":true}} (as --follow writes it) for --shard to split it by _id');
      return place(value.collection, { deleted: value.deleted as string }, raw.length, start, number, end);
    }
    place(value.collection, 'doc' in value ? { doc: value.doc } : undefined, raw.length, start, number, end);
  };

  /** A collection line, with its document or tombstone (`entry`) unless it only announces the collection. */
  function place(lineCollection: string, entry: { doc: unknown } | { deleted: string } | undefined, size: number, start: number, number: number, end: number) {
    const wanted = !collections || collections.has(lineCollection);
    if (lineCollection !== collection && options.listed && !options.listed.has(lineCollection)) {
      const reason = `collection ${JSON.stringify(lineCollection)} is not among those the file's metadata line lists (${[...options.listed].join(', ')}; files joined into one must leave their {"metadata"} lines out)`;
      throw new InputError(numberedReason(number, reason), start, collection || undefined);
    }
    const deletion = entry !== undefined && 'deleted' in entry;
    // Before `next` moves past this line: what is pending ends at the line before it.
    if (lineCollection !== collection || (entry !== undefined && (deletion ? docs.length > 0 : deletes.length > 0))) {
      flush();
      collection = lineCollection;
    }
    next = { offset: end, line: number + 1 };
    if (!announced.has(lineCollection)) {
      announced.add(lineCollection);
      if (wanted) ready.push({ collection: lineCollection, docs: [], position: positionAt(entry ? { offset: start, line: number } : next, lineCollection) });
    }
    if (!wanted || !entry) return;
    if ('deleted' in entry) deletes.push(entry.deleted);
    else {
      docs.push(entry.doc);
      bytes += size;
    }
    lines.push(lineName(number, start));
    if (docs.length + deletes.length >= batchSize || bytes >= chunkBytes) flush();
  }

  // An aligned byte range's input begins one byte early (see NdjsonShare).
  let aligning = Boolean(byBytes?.align) && !options.resume;
  let base = aligning ? next.offset - 1 : next.offset;
  let number = next.line;
  let lineStart = base;
  let carry: Buffer[] = [];
  let carried = 0;
  /** The start of a line past maxDocumentBytes: kept only to tell its collection. */
  let oversized: Buffer | undefined;
  const mine = (n: number) => !byLine || (n - 1) % byLine.count === byLine.index;
  let rangeDone = false;
  const utf8 = new Utf8Guard();
  for await (const buf of input) {
    options.signal.throwIfAborted();
    utf8.see(buf, base);
    let from = 0;
    if (aligning) {
      const newline = buf.indexOf(0x0a);
      if (newline < 0) {
        base += buf.length;
        continue;
      }
      aligning = false;
      from = newline + 1;
      lineStart = base + from;
    }
    for (;;) {
      // A line that starts past the range is the next shard's: this one is done.
      if (byBytes && carry.length === 0 && !oversized && lineStart >= byBytes.end) {
        rangeDone = true;
        break;
      }
      const newline = buf.indexOf(0x0a, from);
      if (newline < 0) {
        if (from < buf.length && !oversized) {
          carry.push(buf.subarray(from));
          carried += buf.length - from;
          // Memory stays flat whatever a file holds: a line past the limit is only read to its end.
          if (carried > maxDocumentBytes) {
            oversized = carry[0]!.subarray(0, 4096);
            carry = [];
          }
        }
        break;
      }
      const piece = buf.subarray(from, newline);
      const end = base + newline + 1;
      if (!mine(number)) {
        // Another shard's line: not parsed here.
      } else if (oversized || carried + piece.length > maxDocumentBytes) {
        unreadable(tooLargeReason, undefined, tellHead(oversized ?? (carry[0] ?? piece).subarray(0, 4096)), undefined, lineStart, number, end);
      } else {
        line(carry.length ? Buffer.concat([...carry, piece]) : piece, lineStart, number, end);
      }
      carry = [];
      carried = 0;
      oversized = undefined;
      number++;
      from = newline + 1;
      lineStart = base + from;
    }
    base += buf.length;
    if (ready.length) {
      yield* ready;
      ready.length = 0;
    }
    if (rangeDone) break;
  }
  if (rangeDone || aligning || !mine(number)) {
    // The last line is another shard's, or the range ended before it.
  } else if (oversized) unreadable(tooLargeReason, undefined, tellHead(oversized), undefined, lineStart, number, base);
  else if (carry.length) line(Buffer.concat(carry), lineStart, number, base);
  flush();
  yield* ready;
}

/** What a line that cannot be read as it is still tells: its collection, its document's `_id`, whether it is a tombstone. */
interface Told {
  collection?: string;
  id?: string;
  tombstone?: boolean;
}

/**
 * What a line that cannot be read as it is tells (see Told), from its text decoded with replacement
 * characters: the names only when none of their own characters was replaced.
 */
function tell(text: string): Told {
  try {
    const value = JSON.parse(text) as { collection?: unknown; doc?: { _id?: unknown }; deleted?: unknown };
    const exact = (v: unknown) => (typeof v === 'string' && !v.includes('\ufffd') ? v : undefined);
    return { collection: exact(value?.collection), id: exact(value?.doc?._id), tombstone: value !== null && typeof value === 'object' && 'deleted' in value };
  } catch {
    return {};
  }
}

/** A value's kind for an error line, never the value itself (it may be data). */
function describeValue(value: JsonValue): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof ExactNumber || typeof value === 'number') return 'a number';
  return typeof value === 'object' ? 'an object' : typeof value === 'string' ? 'an empty string' : `a ${typeof value}`;
}

/** The collection of a line too large to keep, from its first bytes (our sink writes `collection` first). */
function tellHead(head: Buffer): Told {
  const match = /^\s*\{\s*"collection"\s*:\s*("(?:[^"\\]|\\.)*")/.exec(head.toString('utf8'));
  if (!match) return {};
  try {
    const name = JSON.parse(match[1]!) as string;
    return name.includes('\ufffd') ? {} : { collection: name };
  } catch {
    return {};
  }
}
