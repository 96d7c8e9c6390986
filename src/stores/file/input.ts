/**
 * Reading an export file's bytes: a path or a stream (stdin, a library caller's), gunzipped on the
 * fly, with the format as given, else taken from the name or, when there is no name to tell (a
 * stream), sniffed from the first bytes.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { fatalError, usageError } from '../../errors.js';
import { type FileFormat, formatFromName } from '../../formats/file-name.js';
import { type InputFormat, sniffForeign } from '../../formats/input-format.js';


/** Size and mtime of an input file; a missing or unreadable path is a usage error (exit 2). */
export async function statInput(path: string): Promise<{ size: number; mtimeMs: number }> {
  try {
    const info = await stat(path);
    if (info.isDirectory()) throw usageError('file-not-found', `${path}: is a directory, not an export file`);
    return info;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw usageError('file-not-found', `${path}: no such file`, error);
    if ((error as NodeJS.ErrnoException).code === 'EACCES') throw usageError('file-unreadable', `${path}: permission denied`, error);
    throw error;
  }
}

/**
 * Where a file source's bytes come from: a path, or a stream (stdin for `file:-`, a request body,
 * an S3 object). `name` is what error lines call the stream (`stdin: unexpected end at byte 9`). A
 * stream the run `owns` is destroyed when the source closes, read to its end or not, so a request
 * body is never left hanging; stdin is left as it is.
 */
export type FileInput = { path: string } | { stream: Readable; name: string; owns: boolean };

/** What error lines call an input: its path or its name. */
export function inputName(input: FileInput): string {
  return 'path' in input ? input.path : input.name;
}

export interface InputOptions {
  input: FileInput;
  /** Read buffer size; large buffers make the byte scanner fast. */
  highWaterMark: number;
  /** Decompressed byte offset to start at (resume). */
  offset: number;
  /** Called with the size of every compressed (on-disk) chunk read, for progress. */
  onRead: (bytes: number) => void;
  /** The format when already known (`--format`, or found at open), so neither name nor content is asked. */
  format?: InputFormat;
  /** Whether the file is gzipped, when a peek at its first bytes already told: a plain one is then read from `offset` whatever its name. */
  gzip?: boolean;
}

export interface OpenedInput {
  format: InputFormat;
  gzip: boolean;
  /** On-disk offset reading started at (the resume offset for a plain file, else 0). */
  rawStart: number;
  /** Decompressed bytes from `offset` on. */
  chunks: AsyncIterable<Buffer>;
}

const gzipMagic = [0x1f, 0x8b];

/** Opens the input: format as given, else from the name when it tells, else sniffed (gzip magic, other tools' formats, JSON vs NDJSON). */
export async function openInput(options: InputOptions): Promise<OpenedInput> {
  const { input } = options;
  const named = 'path' in input ? formatFromName(input.path) : { gzip: false };
  const plainResume = 'path' in input && (options.gzip === false || (!named.gzip && named.format !== undefined));
  const raw: Readable =
    'path' in input ? createReadStream(input.path, { highWaterMark: options.highWaterMark, start: plainResume ? options.offset : 0 }) : input.stream;
  let rawChunks: AsyncIterable<Buffer> = counted(raw, options.onRead, inputName(input));
  let gzip = options.gzip ?? named.gzip;
  if (options.gzip === undefined && named.format === undefined) {
    const head = await peek(rawChunks, 2);
    rawChunks = head.chunks;
    gzip = head.bytes[0] === gzipMagic[0] && head.bytes[1] === gzipMagic[1];
  }
  let chunks = gzip ? gunzip(rawChunks, inputName(input)) : rawChunks;
  let format = options.format ?? named.format;
  if (format === undefined) {
    const head = await peek(chunks, 64 * 1024);
    chunks = head.chunks;
    format = sniffForeign(head.bytes) ?? sniffFormat(head.bytes);
  }
  if (options.offset > 0 && !plainResume) chunks = skip(chunks, options.offset);
  return { format, gzip, rawStart: plainResume ? options.offset : 0, chunks };
}

/**
 * NDJSON when the first line is one complete object of our line format (`{"collection": ...}` or
 * a `{"metadata": ...}` line with no `data`); anything else is read as an export.
 */
export function sniffFormat(head: Buffer): FileFormat {
  const text = head.toString('utf8');
  if (/^\s*\{\s*"collection"\s*:/.test(text)) return 'ndjson';
  const firstLine = /^\s*(\{[^\n]*\})\s*\n/.exec(text)?.[1];
  if (firstLine && /^\{\s*"metadata"\s*:/.test(firstLine)) {
    try {
      const value = JSON.parse(firstLine) as Record<string, unknown>;
      if (!('data' in value)) return 'ndjson';
    } catch {
      // Not one complete line: a pretty or long export.
    }
  }
  return 'json';
}

async function* counted(stream: Readable, onRead: (bytes: number) => void, name: string): AsyncGenerator<Buffer> {
  for await (const chunk of stream) {
    // A caller's stream may be in object mode: Buffers and strings are bytes, anything else is not an export file.
    if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) {
      throw usageError('bad-record', `${name}: the stream gave ${chunk === null ? 'null' : typeof chunk === 'object' ? 'an object' : `a ${typeof chunk}`}, not bytes; a stream of { collection, doc } records goes to writeDocuments, not fileSource`);
    }
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    onRead(buf.length);
    yield buf;
  }
}

/** Reads at least `min` bytes (or all there is) and gives them back with the untouched stream. */
async function peek(source: AsyncIterable<Buffer>, min: number): Promise<{ bytes: Buffer; chunks: AsyncIterable<Buffer> }> {
  const iterator = source[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let size = 0;
  let done = false;
  while (size < min) {
    const next = await iterator.next();
    if (next.done) {
      done = true;
      break;
    }
    head.push(next.value);
    size += next.value.length;
  }
  async function* chained(): AsyncGenerator<Buffer> {
    yield* head;
    if (done) return;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  }
  return { bytes: Buffer.concat(head), chunks: chained() };
}

function gunzip(source: AsyncIterable<Buffer>, name: string): AsyncIterable<Buffer> {
  const input = Readable.from(source, { objectMode: false });
  const inflate = createGunzip({ chunkSize: 256 * 1024 });
  input.on('error', (error) => inflate.destroy(error));
  inflate.on('close', () => input.destroy());
  input.pipe(inflate);
  return (async function* () {
    try {
      for await (const chunk of inflate) yield chunk as Buffer;
    } catch (error) {
      if (/^Z_/.test(String((error as NodeJS.ErrnoException).code))) {
        throw fatalError('malformed-input', `${name}: not valid gzip (${(error as Error).message})`, error);
      }
      throw error;
    }
  })();
}

async function* skip(source: AsyncIterable<Buffer>, bytes: number): AsyncGenerator<Buffer> {
  let left = bytes;
  for await (const chunk of source) {
    if (left >= chunk.length) {
      left -= chunk.length;
      continue;
    }
    yield left > 0 ? chunk.subarray(left) : chunk;
    left = 0;
  }
}

/** The 1-based line of a decompressed byte offset, counted by reading the file again (error path only). */
export async function lineAt(path: string, gzip: boolean, offset: number): Promise<number> {
  let line = 1;
  let seen = 0;
  const raw = createReadStream(path, { highWaterMark: 1 << 20 });
  const chunks = gzip ? gunzip(counted(raw, () => {}, path), path) : counted(raw, () => {}, path);
  try {
    for await (const chunk of chunks) {
      const end = Math.min(chunk.length, offset - seen);
      for (let i = chunk.indexOf(0x0a); i >= 0 && i < end; i = chunk.indexOf(0x0a, i + 1)) line++;
      seen += chunk.length;
      if (seen >= offset) break;
    }
  } catch {
    // A corrupt gzip tail: the count so far is still right for an offset before it.
  }
  raw.destroy();
  return line;
}
