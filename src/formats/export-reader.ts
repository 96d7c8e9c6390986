/**
 * Turns the bytes of an export file into SourceChunks: the scanner finds each document's bytes,
 * JSON.parse turns them into a value (the exact parser only when the scanner saw an unsafe number).
 */
import type { SourceChunk } from '../types.js';
import { type ExportMetadata, toMetadata } from './export-metadata.js';
import { ExportScanner, ScanError, type ScanResume } from './export-scanner.js';
import { Unreadable } from './limits.js';
import { JsonSyntaxError, parseExact, parseJson } from './parse.js';
import { idOfDamaged } from './utf8.js';

export interface ReadOptions {
  /** File name for `where` lines. */
  name: string;
  batchSize: number;
  collections?: ReadonlySet<string>;
  signal: AbortSignal;
  resume?: ScanResume;
  onMetadata(metadata: ExportMetadata): void;
}

/** Position of an export chunk: the decompressed offset after its last document, inside `collection`'s array. */
export interface ExportPosition {
  format: 'json';
  offset: number;
  collection: string;
  afterDoc: boolean;
  [key: string]: string | number | boolean;
}

/** A chunk is cut at this many document bytes even when it has fewer than batchSize documents. */
const chunkBytes = 1 << 20;

/**
 * Malformed input inside the reader: the reason and byte offset, plus the collection it was in,
 * for the source to word as one line.
 */
export class InputError extends Error {
  constructor(
    readonly reason: string,
    readonly offset: number,
    readonly collection: string | undefined,
  ) {
    super(`${reason} at byte ${offset}`);
    this.name = 'InputError';
  }
}

function parseDoc(text: string, unsafe: boolean): unknown {
  if (unsafe) return parseJson(text);
  try {
    return JSON.parse(text);
  } catch {
    return parseExact(text); // throws with the position
  }
}

export async function* readExport(input: AsyncIterable<Buffer>, options: ReadOptions): AsyncGenerator<SourceChunk> {
  const ready: SourceChunk[] = [];
  const { name, batchSize, collections } = options;
  let collection = options.resume?.collection ?? '';
  let docs: unknown[] = [];
  let starts: number[] = [];
  let bytes = 0;
  let lastEnd = 0;

  const flush = () => {
    if (docs.length === 0) return;
    const at = starts;
    const position: ExportPosition = { format: 'json', offset: lastEnd, collection, afterDoc: true };
    // The scanner turned every document deeper than maxDepth into an Unreadable, and JSON holds no undefined.
    ready.push({ collection, docs, position, where: (index) => `${name} byte ${at[index]}`, settled: true });
    docs = [];
    starts = [];
    bytes = 0;
  };

  const add = (doc: unknown, start: number, end: number, size: number) => {
    docs.push(doc);
    starts.push(start);
    lastEnd = end;
    bytes += size;
    if (docs.length >= batchSize || bytes >= chunkBytes) flush();
  };

  const scanner = new ExportScanner(
    {
      collection(next, offset) {
        flush();
        collection = next;
        if (collections && !collections.has(next)) return false;
        const position: ExportPosition = { format: 'json', offset, collection: next, afterDoc: false };
        ready.push({ collection: next, docs: [], position });
        return true;
      },
      doc(raw, unsafe, start, end) {
        const text = raw.toString('utf8');
        try {
          add(parseDoc(text, unsafe), start, end, raw.length);
        } catch (error) {
          if (!(error instanceof JsonSyntaxError)) throw error;
          throw new InputError(error.reason, start + Buffer.byteLength(text.slice(0, error.position)), collection);
        }
      },
      unreadable(reason, start, end, raw) {
        add(new Unreadable(reason, raw && idOfDamaged(raw), raw && Buffer.from(raw)), start, end, raw?.length ?? 0);
      },
      metadata(raw, start) {
        const text = raw.toString('utf8');
        try {
          const metadata = toMetadata(parseJson(text));
          if (metadata) options.onMetadata(metadata);
        } catch (error) {
          if (!(error instanceof JsonSyntaxError)) throw error;
          throw new InputError(`${error.reason} in "metadata"`, start + Buffer.byteLength(text.slice(0, error.position)), undefined);
        }
      },
    },
    options.resume,
  );

  const scan = (step: () => void) => {
    try {
      step();
    } catch (error) {
      if (error instanceof ScanError) throw new InputError(error.reason, error.offset, scanner.current);
      throw error;
    }
  };

  for await (const buf of input) {
    options.signal.throwIfAborted();
    scan(() => scanner.push(buf));
    if (ready.length) {
      yield* ready;
      ready.length = 0;
    }
  }
  scan(() => scanner.end());
  flush();
  yield* ready;
  if (!scanner.foundData) throw new InputError('not an export: no top-level "data" object', scanner.offset, undefined);
}
