/**
 * Our NDJSON export format, one JSON object per line (blank lines ignored):
 *
 *   {"collection":"agents"}                      announces a collection (carried even when empty)
 *   {"collection":"agents","doc":{...}}          one document of it
 *   {"metadata":{"provider":...,"collections":[...]}}   optional, anywhere (our sink writes it last)
 *
 * A document line for a collection not announced yet announces it too. Lines are split on bytes
 * and each is decoded whole, so multi-byte characters are never cut.
 */
import type { JsonValue, SourceChunk } from '../types.js';
import { ExactNumber } from './exact-number.js';
import { type ExportMetadata, toMetadata } from './export-metadata.js';
import { InputError } from './export-reader.js';
import { JsonSyntaxError, parseJson } from './parse.js';

export interface NdjsonReadOptions {
  name: string;
  batchSize: number;
  collections?: ReadonlySet<string>;
  signal: AbortSignal;
  /** Where to start: decompressed offset of a line start and its 1-based line number. */
  resume?: { offset: number; line: number; collection: string };
  onMetadata(metadata: ExportMetadata): void;
}

export interface NdjsonPosition {
  format: 'ndjson';
  /** Decompressed offset of the next line. */
  offset: number;
  /** Its line number. */
  line: number;
  collection: string;
  [key: string]: string | number;
}

const chunkBytes = 1 << 20;

export async function* readNdjson(input: AsyncIterable<Buffer>, options: NdjsonReadOptions): AsyncGenerator<SourceChunk> {
  const { name, batchSize, collections } = options;
  const ready: SourceChunk[] = [];
  // Collections seen so far: only names, a handful per file.
  const announced = new Set<string>(options.resume ? [options.resume.collection] : []);
  let collection = options.resume?.collection ?? '';
  let docs: unknown[] = [];
  let lines: number[] = [];
  let bytes = 0;
  let next = { offset: options.resume?.offset ?? 0, line: options.resume?.line ?? 1 };

  const flush = () => {
    if (docs.length === 0) return;
    const at = lines;
    const position: NdjsonPosition = { format: 'ndjson', offset: next.offset, line: next.line, collection };
    ready.push({ collection, docs, position, where: (index) => `${name} line ${at[index]}` });
    docs = [];
    lines = [];
    bytes = 0;
  };

  const line = (raw: Buffer, start: number, number: number, end: number) => {
    const text = raw.toString('utf8');
    if (text.trim() === '') return;
    let parsed: JsonValue;
    try {
      parsed = parseJson(text);
    } catch (error) {
      if (!(error instanceof JsonSyntaxError)) throw error;
      throw new InputError(`line ${number}: ${error.reason}`, start + Buffer.byteLength(text.slice(0, error.position)), collection || undefined);
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed) || parsed instanceof ExactNumber) {
      throw new InputError(`line ${number}: expected an object like {"collection":…,"doc":…}`, start, collection || undefined);
    }
    const value = parsed;
    if (typeof value.collection !== 'string') {
      if (!('metadata' in value)) throw new InputError(`line ${number}: no "collection" name`, start, collection || undefined);
      const metadata = toMetadata(value.metadata!);
      if (metadata) options.onMetadata(metadata);
      return;
    }
    const lineCollection = value.collection;
    const wanted = !collections || collections.has(lineCollection);
    if (lineCollection !== collection) {
      flush();
      collection = lineCollection;
    }
    next = { offset: end, line: number + 1 };
    if (!announced.has(lineCollection)) {
      announced.add(lineCollection);
      if (wanted) ready.push({ collection: lineCollection, docs: [], position: { format: 'ndjson', offset: 'doc' in value ? start : end, line: 'doc' in value ? number : number + 1, collection: lineCollection } });
    }
    if (!wanted || !('doc' in value)) return;
    docs.push(value.doc);
    lines.push(number);
    bytes += raw.length;
    if (docs.length >= batchSize || bytes >= chunkBytes) flush();
  };

  let base = next.offset;
  let number = next.line;
  let lineStart = base;
  let carry: Buffer[] = [];
  for await (const buf of input) {
    options.signal.throwIfAborted();
    let from = 0;
    for (;;) {
      const newline = buf.indexOf(0x0a, from);
      if (newline < 0) {
        if (from < buf.length) carry.push(buf.subarray(from));
        break;
      }
      const piece = buf.subarray(from, newline);
      line(carry.length ? Buffer.concat([...carry, piece]) : piece, lineStart, number, base + newline + 1);
      carry = [];
      number++;
      from = newline + 1;
      lineStart = base + from;
    }
    base += buf.length;
    if (ready.length) {
      yield* ready;
      ready.length = 0;
    }
  }
  if (carry.length) line(Buffer.concat(carry), lineStart, number, base);
  flush();
  yield* ready;
}
