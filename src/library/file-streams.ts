/**
 * `fileSource(readable)` and `fileSink(writable)`: an export's bytes from any Readable and into any
 * Writable (a request body, an S3 object stream), read and written by the file adapters
 * themselves, so formats, gzip, exact numbers and error lines are those of `file:` paths.
 */
import type { Readable, Writable } from 'node:stream';
import { checkArgument, checkOptions, isBoolean, isFunction, isNumber, isString, type OptionChecks, takes } from '../pipeline/option-checks.js';
import { adapterOptions } from '../pipeline/store-options.js';
import { createSink, type FileSinkOptions } from '../sinks/file.js';
import { createSource, type FileSourceOptions } from '../sources/file.js';
import type { Sink, Source } from '../types.js';
import { inputFormats, type InputFormat } from '../formats/input-format.js';

export interface FileStreamSourceOptions extends Pick<FileSourceOptions, 'batchSize' | 'collectionName'> {
  /** Sniffed from the first bytes when not given (gzip too): ours (`json`, `ndjson`) or another tool's backup (`couchbackup`, `firestore-export`, `array`). */
  format?: Exclude<InputFormat, 'dynamodb-export'>;
  /** What error lines and reports call the stream (default `stream`). */
  name?: string;
  /** Warnings worth a line (a collection asked for and not in the stream). Default: stderr, redacted. */
  warn?: (message: string) => void;
}

export interface FileStreamSinkOptions extends FileSinkOptions {
  /** What error lines and reports call the stream (default `stream`). */
  name?: string;
}

// A DynamoDB export is a folder of files, never one stream.
const streamFormats = inputFormats.filter((f) => f !== 'dynamodb-export');
const isInputFormat = takes(`one of ${streamFormats.join(', ')}`, (v) => (streamFormats as unknown[]).includes(v));
const isOutputFormat = takes("'json' or 'ndjson'", (v) => v === 'json' || v === 'ndjson');

const sourceChecks: OptionChecks<FileStreamSourceOptions> = { format: isInputFormat, collectionName: isString, name: isString, batchSize: isNumber, warn: isFunction };
const sinkChecks: OptionChecks<FileStreamSinkOptions> = { format: isOutputFormat, gzip: isBoolean, name: isString, batchSize: isNumber, follow: isBoolean, warn: isFunction };

const isByteReadable = (value: unknown): string | undefined => {
  const stream = value as Partial<Readable> | null;
  if (stream === null || typeof stream !== 'object' || typeof stream[Symbol.asyncIterator] !== 'function') {
    return 'the first argument must be a Node Readable of an export file\'s bytes';
  }
  return undefined;
};

const isByteWritable = (value: unknown): string | undefined => {
  const stream = value as Partial<Writable> | null;
  return stream !== null && typeof stream === 'object' && typeof stream.write === 'function' && typeof stream.end === 'function' && typeof stream.on === 'function'
    ? undefined
    : 'the first argument must be a Node Writable for the export file\'s bytes';
};

/**
 * A Source reading an export's bytes from `stream`, for `migrate`, `verify` or `readDocuments`.
 * The run owns the stream: closing the source (the run ended, or its reader gave up) destroys it.
 */
export function fileSource(stream: Readable, options: FileStreamSourceOptions = {}): Source {
  checkArgument('fileSource', 'stream', stream, isByteReadable);
  checkOptions('fileSource', options, sourceChecks);
  const name = options.name ?? 'stream';
  return createSource({ stream, name, owns: true }, { ...options, warn: adapterOptions(options).warn }, name);
}

/**
 * A Sink writing an export's bytes into `stream`, for `migrate` or `writeDocuments`. The run owns
 * the stream: it ends it when the run completes and destroys it when it does not, so whatever
 * reads it (an upload) never sees an end that looks whole.
 */
export function fileSink(stream: Writable, options: FileStreamSinkOptions = {}): Sink {
  checkArgument('fileSink', 'stream', stream, isByteWritable);
  checkOptions('fileSink', options, sinkChecks);
  const name = options.name ?? 'stream';
  return createSink({ stream, name, owns: true }, options, name);
}
