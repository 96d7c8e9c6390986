/**
 * `writeDocuments(to)`: any target as a Node Writable of `{ collection, doc }` records.
 *
 * The Writable is the source of a `migrate()` run: each write (or writev of what the stream had
 * buffered) is handed to the run as one chunk, and its callback is called only when the run asks
 * for the next chunk, which it does only when its writer has a free slot. So while the batches in
 * flight are full the stream's buffer fills and `write()` returns false. Transforms, validation,
 * batching, retries and dead letters are the run's; its report is the stream's `report`.
 */
import { addAbortSignal, Writable } from 'node:stream';
import { usageError } from '../errors.js';
import { checkArgument, checkOptions, isBoolean, isFunction, isNames, isNumber, isSignal, isSink, isString, isTransforms, type OptionChecks, storeOptionChecks } from '../pipeline/option-checks.js';
import { migrate, type MigrateOptions } from '../pipeline.js';
import type { FailedDocument, RunReport, Sink, Source, SourceChunk, StoreOptions } from '../types.js';

export interface WriteDocumentsOptions
  extends Omit<StoreOptions, 'segments' | 'includeDesign' | 'format' | 'collectionName'>,
    Pick<MigrateOptions, 'collections' | 'transforms' | 'noDefaultTransforms' | 'deadLetter' | 'report' | 'onProgress' | 'cwd'> {
  /** Records buffered before `write()` returns false (default 16), besides the batches in flight. */
  highWaterMark?: number;
  /** Aborting destroys the stream with an AbortError, as for any Node stream: the batches in flight finish, a file target is not kept. */
  signal?: AbortSignal;
}

const { segments: _segments, includeDesign: _includeDesign, format: _format, collectionName: _collectionName, ...targetStoreChecks } = storeOptionChecks;

const writeOptionChecks: OptionChecks<WriteDocumentsOptions> = {
  ...targetStoreChecks,
  collections: isNames,
  transforms: isTransforms,
  noDefaultTransforms: isBoolean,
  deadLetter: isString,
  report: isString,
  signal: isSignal,
  onProgress: isFunction,
  cwd: isString,
  highWaterMark: isNumber,
};

/** What the stream wrote last and has not been taken by the run yet, with the callback that asks for more. */
interface Delivery {
  records: { collection: string; doc: unknown }[];
  taken: () => void;
}

/** The hand-over from the Writable to the run: one delivery at a time, as a Writable writes. */
class Deliveries {
  private pending?: Delivery;
  private ended = false;
  private wake?: () => void;

  put(delivery: Delivery): void {
    this.pending = delivery;
    this.wake?.();
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  /** The next delivery; undefined once the stream ended or the run is stopped. */
  async take(signal: AbortSignal): Promise<Delivery | undefined> {
    while (!this.pending && !this.ended && !signal.aborted) {
      let stopped = () => {};
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        stopped = () => resolve();
        signal.addEventListener('abort', stopped, { once: true });
      });
      signal.removeEventListener('abort', stopped);
      this.wake = undefined;
    }
    const delivery = signal.aborted ? undefined : this.pending;
    this.pending = undefined;
    return delivery;
  }
}

/** The run's source: each delivery as chunks of one collection each, in the order written. */
function deliveredSource(deliveries: Deliveries): Source {
  let count = 0;
  return {
    label: 'writeDocuments',
    provider: 'stream',
    identity: async () => 'writeDocuments',
    listCollections: async () => undefined,
    async *read({ collections, signal }): AsyncIterable<SourceChunk> {
      for (;;) {
        const delivery = await deliveries.take(signal);
        if (!delivery) return;
        const { records } = delivery;
        for (let start = 0; start < records.length; ) {
          const collection = records[start]!.collection;
          let end = start + 1;
          while (end < records.length && records[end]!.collection === collection) end++;
          const first = count + start + 1;
          if (!collections || collections.has(collection)) {
            yield { collection, docs: records.slice(start, end).map((r) => r.doc), where: (i) => `record ${first + i}` };
          }
          start = end;
        }
        count += records.length;
        delivery.taken();
      }
    },
    close: async () => {},
  };
}

/** The Writable `writeDocuments` returns: 'failed' for each document refused, 'report' when the run finished. */
export interface DocumentWriter {
  on(event: 'failed', listener: (failure: FailedDocument) => void): this;
  on(event: 'report', listener: (report: RunReport) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: 'failed', listener: (failure: FailedDocument) => void): this;
  once(event: 'report', listener: (report: RunReport) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
}

export class DocumentWriter extends Writable {
  /** The run's report once the stream finished; rejects with the EtlError that stopped it. */
  readonly report: Promise<RunReport>;
  private readonly deliveries = new Deliveries();
  private readonly stop = new AbortController();
  private written = 0;

  constructor(to: string | Sink, options: WriteDocumentsOptions) {
    const { highWaterMark, signal, ...rest } = options;
    super({ objectMode: true, highWaterMark });
    if (signal) addAbortSignal(signal, this);
    this.report = migrate({ ...rest, from: deliveredSource(this.deliveries), to, signal: this.stop.signal, onFailed: (failure) => this.emit('failed', failure) });
    this.report.catch((error: Error) => this.destroy(error));
  }

  override _write(record: unknown, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this._writev([{ chunk: record }], callback);
  }

  override _writev(chunks: { chunk: unknown }[], callback: (error?: Error | null) => void): void {
    const records: Delivery['records'] = [];
    for (const { chunk } of chunks) {
      this.written++;
      const problem = recordProblem(chunk);
      if (problem) return callback(usageError('bad-record', `writeDocuments: record ${this.written} ${problem}`));
      records.push(chunk as Delivery['records'][number]);
    }
    this.deliveries.put({ records, taken: () => callback() });
  }

  /** The end of the records: the run writes what it holds, closes the target and reports. */
  override _final(callback: (error?: Error | null) => void): void {
    this.deliveries.end();
    // A failed run has destroyed the stream already (see the constructor).
    this.report.then(
      (report) => {
        if (this.destroyed) return;
        this.emit('report', report);
        callback();
      },
      () => {},
    );
  }

  /** Destroying (an earlier stage failed, or the caller gave up) stops the run; it returns once the target is closed, a file target removed. */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.stop.abort();
    this.deliveries.end();
    void this.report.then(
      () => callback(error),
      (failure: Error) => callback(error ?? failure),
    );
  }
}

function recordProblem(record: unknown): string | undefined {
  if (record === null || typeof record !== 'object') return 'is not a { collection, doc } object';
  const { collection } = record as { collection?: unknown };
  if (typeof collection !== 'string' || collection === '') return 'has no collection: write { collection, doc } objects';
  if (!('doc' in record)) return `(collection ${JSON.stringify(collection)}) has no doc: write { collection, doc } objects`;
  return undefined;
}

/**
 * Any target (a URI or a Sink) as an object-mode Writable of `{ collection, doc }` records, with
 * the transforms, batching and dead letters of `migrate`. `write()` returns false while the
 * target's batches in flight are full; ending it writes the rest and closes the target; `report`
 * (and the 'report' event) gives the run's report. A fatal error destroys the stream with the
 * run's EtlError, and a file target then leaves no file.
 */
export function writeDocuments(to: string | Sink, options: WriteDocumentsOptions = {}): DocumentWriter {
  checkArgument('writeDocuments', 'to', to, isSink);
  checkOptions('writeDocuments', options, writeOptionChecks);
  return new DocumentWriter(to, options);
}
