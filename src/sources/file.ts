/**
 * `file:PATH` source: export files (`.json`, what export.py writes, any key order, any size) and
 * our NDJSON format (`.ndjson`/`.jsonl`, see formats/ndjson-reader.ts), either gzipped (`.gz`).
 * `file:-` reads stdin, and `createSource` any stream of those bytes (a request body, an S3
 * object), sniffing gzip and the format. Memory stays flat: documents are found by a byte scanner
 * and parsed one at a time, never the whole file.
 *
 * Positions are decompressed byte offsets (plus the collection whose array we are in, and the line
 * for NDJSON): a plain file reopens at the offset, a gzipped one decompresses and discards up to it.
 */
import { open } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { createGunzip } from 'node:zlib';
import { dynamodbExportSource, findExportFolder } from '../stores/file/dynamodb-export-folder.js';
import { fatalError, usageError } from '../errors.js';
import { type FileInput, inputName, lineAt, openInput, sniffFormat, statInput } from '../stores/file/input.js';
import { formatFromName } from '../formats/file-name.js';
import { checkedFormat, collectionOf, foreignMetadata, readForeign } from '../stores/file/foreign-input.js';
import { type ExportMetadata, metadataFromHead, metadataFromTail, toMetadata } from '../formats/export-metadata.js';
import { InputError, readExport } from '../formats/export-reader.js';
import { type InputFormat, isForeignFormat, sniffForeign } from '../formats/input-format.js';
import { type NdjsonShare, readNdjson } from '../formats/ndjson-reader.js';
import type { AdapterOptions, JsonValue, ParsedUri, Position, Shard, Source, SourceChunk, SourceReadOptions } from '../types.js';

/** What a file source is told: the store options it reads, and a smaller read buffer for tests. */
export interface FileSourceOptions extends Pick<AdapterOptions, 'format' | 'collectionName' | 'includeDesign' | 'batchSize' | 'warn'> {
  highWaterMark?: number;
}

/** What a path's name and first bytes told before reading: its size for progress, its metadata, whether it is gzipped. */
interface Peeked {
  info: { size: number; mtimeMs: number };
  metadata?: ExportMetadata;
  gzip: boolean;
}

const peekBytes = 64 * 1024;

export default async function fileSource(uri: ParsedUri, options: AdapterOptions & Pick<FileSourceOptions, 'highWaterMark'>): Promise<Source> {
  const path = uri.rest;
  if (!path) throw usageError('bad-uri', 'file: needs a path, e.g. file:backup.json (or file:- for stdin)');
  const forced = checkedFormat(options.format);
  if (path === '-') return createSource({ stream: process.stdin, name: 'stdin', owns: false }, { ...options, format: forced }, 'file:-');
  const folder = await findExportFolder(path);
  if (folder) return dynamodbExportSource(path, folder, options);
  const info = await statInput(path);
  const peeked = await peekFile(path, info.size, forced);
  // Pointed at an export's manifest-summary.json: read the export it describes.
  if (peeked.format === 'dynamodb-export') return dynamodbExportSource(path, dirname(path), options);
  return createSource({ path }, { ...options, format: peeked.format }, `file:${path}`, { info, metadata: peeked.metadata, gzip: peeked.gzip });
}

/**
 * A source over a path (`peeked`: its size and metadata) or over any stream of an export's bytes
 * (the format as given, else sniffed).
 */
export function createSource(input: FileInput, options: FileSourceOptions, label: string, peeked?: Peeked): Source {
  const name = inputName(input);
  const path = 'path' in input ? input.path : undefined;
  const info = peeked?.info;
  const collection = collectionOf(path ?? '-', options.collectionName);
  let format = options.format;
  let metadata: ExportMetadata | undefined = isForeignFormat(format) ? foreignMetadata(format, collection) : peeked?.metadata;
  let done = 0;
  /** A shard's byte range of a plain file, for progress. */
  let span: { from: number; end: number } | undefined;
  // Only our NDJSON has a split point of its own: a line start (see NdjsonShare). Not a change log's:
  // its lines must be applied in order, so the hash split keeps each _id's changes in one shard.
  const split = path !== undefined && format === 'ndjson' && !metadata?.changes ? (peeked?.gzip ? 'gzip' : 'bytes') : undefined;

  return {
    label,
    get provider() {
      return metadata?.provider ?? 'file';
    },
    identity: async () => (path !== undefined && info ? `file:${resolve(path)} size=${info.size} mtime=${new Date(info.mtimeMs).toISOString()}` : label),
    listCollections: async () => metadata?.collections,
    progress: () => (info ? (span ? { done: Math.min(done, span.end) - span.from, total: span.end - span.from } : { done, total: info.size }) : undefined),
    splits: split === 'bytes'
      ? 'byte ranges split at line starts'
      : split === 'gzip'
        ? 'line numbers modulo the shard count (gzip has no random access: every shard decompresses the whole file and parses only its own lines)'
        : undefined,
    // A stream (stdin) is read once.
    resumable: path !== undefined,

    async *read({ collections, resumeFrom, signal, shard }: SourceReadOptions): AsyncIterable<SourceChunk> {
      if (resumeFrom && path === undefined) throw usageError('cannot-resume', `${label === name ? name : `${label} (${name})`} cannot resume: read from a file to use a checkpoint`);
      const resume = resumeFrom && !isForeignFormat(format) ? checkedResume(resumeFrom, name) : undefined;
      const share: NdjsonShare | undefined = shard && split ? (split === 'gzip' ? shard : byteRange(shard, info!.size)) : undefined;
      span = share && 'end' in share ? share : undefined;
      // A byte range that does not start the file begins one byte early, to find its first line start.
      const offset = resume?.offset ?? (span && span.from > 0 ? span.from - 1 : 0);
      done = 0;
      const opened = await openInput({
        input,
        highWaterMark: options.highWaterMark ?? 1 << 20,
        offset,
        onRead: (bytes) => (done += bytes),
        format,
        gzip: peeked?.gzip,
      });
      if (format === undefined && isForeignFormat(opened.format)) metadata = foreignMetadata(opened.format, collection);
      format = opened.format;
      if (options.collectionName !== undefined && !isForeignFormat(format)) {
        throw usageError('collection-name', `${name} is our ${format} export, its collections named inside: --collection-name applies to a file of one collection`);
      }
      done += opened.rawStart;
      if (resume && resume.format !== opened.format) throw usageError('bad-resume', `${name}: the checkpoint is for a ${resume.format} file, this is ${opened.format}`);
      const common = {
        name,
        batchSize: options.batchSize ?? 1000,
        collections,
        signal,
        onMetadata: (found: ExportMetadata) => void (metadata = { ...metadata, ...found }),
      };
      const chunks = isForeignFormat(opened.format)
        ? readForeign(opened.format, opened.chunks, { ...common, collection, collectionGiven: options.collectionName !== undefined, includeDesign: options.includeDesign, warn: options.warn, resumeFrom })
        : opened.format === 'ndjson'
          ? readNdjson(opened.chunks, { ...common, share, listed: metadata?.collections && new Set(metadata.collections), resume: resume && { offset: resume.offset, line: resume.line, collection: resume.collection } })
          : readExport(opened.chunks, { ...common, resume: resume && { offset: resume.offset, collection: resume.collection, afterDoc: resume.afterDoc ?? false } });
      const seen = new Set<string>();
      try {
        for await (const chunk of chunks) {
          seen.add(chunk.collection);
          yield chunk;
        }
      } catch (error) {
        if (error instanceof InputError) throw fatalError('malformed-input', await describe(error, name, path === undefined ? undefined : () => lineAt(path, opened.gzip, error.offset)));
        throw error;
      }
      // A file is known whole only once read; a resumed read began after collections seen before, a shard's in the middle.
      const absent = collections && !resume && !share ? [...collections].filter((c) => !seen.has(c)).sort() : [];
      if (absent.length > 0) options.warn(`${name}: no collection ${absent.join(', ')}; nothing read from ${absent.length === 1 ? 'it' : 'them'}`);
    },
    close: async () => {
      if ('stream' in input && input.owns) input.stream.destroy();
    },
  };
}

/**
 * One line: `backup.json: unexpected end of file at byte 1048576 (line 40211) in collection "agents"`.
 * The line is counted by reading the file again, which a stream cannot be (`lineOf` undefined).
 */
async function describe(error: InputError, name: string, lineOf?: () => Promise<number>): Promise<string> {
  const line = error.reason.startsWith('line ') || !lineOf ? undefined : await lineOf();
  const where = `at byte ${error.offset}${line === undefined ? '' : ` (line ${line})`}`;
  const collection = error.collection === undefined ? '' : ` in collection ${JSON.stringify(error.collection)}`;
  return `${name}: ${error.reason} ${where}${collection}`;
}

/**
 * Shard k of N of a plain NDJSON file of `size` bytes: the lines that start in
 * [k·size/N, (k+1)·size/N). Each bound is computed by one function of its number, so a shard's end
 * is exactly the next one's start: no line in two shards, none in none.
 */
function byteRange(shard: Shard, size: number): NdjsonShare {
  const bound = (k: number) => Number((BigInt(size) * BigInt(k)) / BigInt(shard.count));
  const from = bound(shard.index);
  return { from, end: bound(shard.index + 1), align: from > 0 };
}

interface Resume {
  format: 'json' | 'ndjson';
  offset: number;
  collection: string;
  afterDoc?: boolean;
  line?: number;
}

function checkedResume(position: Position, name: string): Resume {
  const { format, offset, collection, afterDoc, line } = position;
  const valid =
    (format === 'json' || format === 'ndjson') &&
    typeof offset === 'number' &&
    Number.isSafeInteger(offset) &&
    offset >= 0 &&
    typeof collection === 'string' &&
    (afterDoc === undefined || typeof afterDoc === 'boolean') &&
    (line === undefined || typeof line === 'number');
  if (!valid) throw usageError('bad-resume', `${name}: the checkpoint position is not a file position`);
  return position as unknown as Resume;
}

/**
 * The file's format (as forced, else other tools' formats by content, else ours by name or
 * content) and, for ours, its metadata: from the head (export.py puts it first) or, for a plain
 * file, the tail (our sink puts it last).
 */
async function peekFile(path: string, size: number, forced: InputFormat | undefined): Promise<{ format: InputFormat; metadata?: ExportMetadata; gzip: boolean }> {
  const named = formatFromName(path);
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(Math.min(size, peekBytes));
    await handle.read(head, 0, head.length, 0);
    const gzip = named.gzip || (head[0] === 0x1f && head[1] === 0x8b);
    const text = gzip ? await gunzipHead(head) : head;
    const format = forced ?? sniffForeign(text) ?? named.format ?? sniffFormat(text);
    if (isForeignFormat(format)) return { format, gzip };
    const fromHead = format === 'ndjson' ? metadataFromLine(text.toString('utf8').split('\n', 1)[0]!) : metadataFromHead(text);
    // The tail of a gzipped file cannot be read without decompressing all of it.
    if (fromHead || gzip) return { format, metadata: fromHead, gzip };
    const tail = Buffer.alloc(Math.min(size, peekBytes));
    await handle.read(tail, 0, tail.length, size - tail.length);
    const tailText = tail.toString('utf8');
    return { gzip, format, metadata: format === 'ndjson' ? metadataFromLine(tailText.trimEnd().slice(tailText.trimEnd().lastIndexOf('\n') + 1)) : metadataFromTail(tailText) };
  } finally {
    await handle.close();
  }
}

/** Metadata from an NDJSON `{"metadata": ...}` line, if this is one. */
function metadataFromLine(line: string): ExportMetadata | undefined {
  try {
    const value = JSON.parse(line) as { metadata?: JsonValue; collection?: unknown };
    return value && typeof value === 'object' && value.metadata !== undefined && value.collection === undefined ? toMetadata(value.metadata) : undefined;
  } catch {
    return undefined;
  }
}

/** As much of the decompressed start as these compressed bytes give. */
function gunzipHead(head: Buffer): Promise<Buffer> {
  return new Promise((resolvePromise) => {
    const parts: Buffer[] = [];
    const inflate = createGunzip();
    inflate.on('data', (chunk: Buffer) => parts.push(chunk));
    const done = () => resolvePromise(Buffer.concat(parts));
    inflate.on('end', done);
    inflate.on('error', done); // a cut-off stream: keep what came out
    inflate.end(head);
  });
}
