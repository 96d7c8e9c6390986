/**
 * `readDocuments(from)`: any source as a Node Readable of `{ collection, doc }` records.
 *
 * It is a `migrate()` run whose target is the stream itself: the run's sink pushes each document
 * and, when the reader's buffer is full, waits for the next `_read`. The run reads its next chunk
 * only when that sink has taken the last one, so a slow consumer stops the source, and nothing
 * holds more than one source chunk, one batch and the stream's buffer. Selection, transforms,
 * validation and dead letters are the run's, as in any migration.
 */
import { addAbortSignal, Readable } from 'node:stream';
import { checkArgument, checkOptions, isBoolean, isNames, isNumber, isSignal, isSource, isString, isTransforms, type OptionChecks, storeOptionChecks } from '../pipeline/option-checks.js';
import { migrate, type MigrateOptions } from '../pipeline.js';
import type { DocumentRecord, FailedDocument, Sink, Source, StoreOptions } from '../types.js';

export interface ReadDocumentsOptions
  extends Omit<StoreOptions, 'onConflict' | 'concurrency'>,
    Pick<MigrateOptions, 'collections' | 'transforms' | 'noDefaultTransforms' | 'deadLetter' | 'cwd'> {
  /** Records buffered ahead of a slow reader (default 16). */
  highWaterMark?: number;
  /** Aborting destroys the stream with an AbortError, as for any Node stream, and stops the source. */
  signal?: AbortSignal;
}

const { onConflict: _onConflict, concurrency: _concurrency, ...sourceStoreChecks } = storeOptionChecks;

const readOptionChecks: OptionChecks<ReadDocumentsOptions> = {
  ...sourceStoreChecks,
  collections: isNames,
  transforms: isTransforms,
  noDefaultTransforms: isBoolean,
  deadLetter: isString,
  signal: isSignal,
  cwd: isString,
  highWaterMark: isNumber,
};

/** The Readable `readDocuments` returns; besides the stream's own events, 'failed' for each document a transform or validation refused. */
export interface DocumentReader {
  on(event: 'failed', listener: (failure: FailedDocument) => void): this;
  on(event: 'data', listener: (record: DocumentRecord) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: 'failed', listener: (failure: FailedDocument) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
  [Symbol.asyncIterator](): AsyncIterableIterator<DocumentRecord>;
}

export class DocumentReader extends Readable {
  private run?: Promise<void>;
  /** Resolves the sink's wait for room in the buffer. */
  private room?: () => void;
  private readonly stop = new AbortController();

  constructor(
    private readonly from: string | Source,
    private readonly options: ReadDocumentsOptions,
  ) {
    super({ objectMode: true, highWaterMark: options.highWaterMark });
    if (options.signal) addAbortSignal(options.signal, this);
  }

  override _read(): void {
    this.run ??= this.start();
    this.wake();
  }

  /** Destroying (the consumer closed early, or failed) stops the run and waits until the source is closed. */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.stop.abort();
    this.wake();
    void (this.run ?? Promise.resolve()).then(() => callback(error));
  }

  private wake(): void {
    const room = this.room;
    this.room = undefined;
    room?.();
  }

  private async start(): Promise<void> {
    const { highWaterMark: _highWaterMark, signal: _signal, ...options } = this.options;
    try {
      await migrate({ ...options, from: this.from, to: this.sink(), signal: this.stop.signal, onFailed: (failure) => this.emit('failed', failure) });
      // Stopped by destroy() (the reader's doing) or read to its end.
      if (!this.destroyed) this.push(null);
    } catch (error) {
      this.destroy(error as Error);
    }
  }

  /** The run's target: pushes every document, waiting for room while the buffer is full. */
  private sink(): Sink {
    return {
      label: 'readDocuments',
      provider: 'stream',
      batchSize: this.readableHighWaterMark,
      concurrency: 1,
      identity: async () => 'readDocuments',
      prepare: async () => {},
      write: async (collection, docs) => {
        for (const doc of docs) {
          if (this.destroyed) break;
          if (!this.push({ collection, doc } satisfies DocumentRecord)) await new Promise<void>((resolve) => (this.room = resolve));
        }
        return docs.map(() => ({ status: 'written' }));
      },
      close: async () => {},
    };
  }
}

/**
 * Any source (a URI or a Source) as an object-mode Readable of `{ collection, doc }` records, with
 * the selection and transforms of `migrate`. An error destroys the stream with the run's EtlError;
 * destroying it early closes the source.
 */
export function readDocuments(from: string | Source, options: ReadDocumentsOptions = {}): DocumentReader {
  checkArgument('readDocuments', 'from', from, isSource);
  checkOptions('readDocuments', options, readOptionChecks);
  return new DocumentReader(from, options);
}
