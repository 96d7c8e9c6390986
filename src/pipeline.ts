/**
 * source → transforms → validation → batches → bounded concurrent writes → stats, dead letters and
 * checkpoints. Backpressure comes from the structure: the loop reads the next chunk only after
 * handing the previous one to the writer, and the writer makes it wait while every slot is busy,
 * so nothing ever holds more than (concurrency + 1) batches and one source chunk.
 */
import { BatchWriter } from './pipeline/batch-writer.js';
import { assertSameRun, Checkpointer, loadCheckpoint, type CheckpointData } from './pipeline/checkpoint.js';
import { DeadLetters } from './pipeline/dead-letter.js';
import { EtlError, fatalError, isEtlError, messageOf, usageError } from './errors.js';
import { writePrivateAtomic } from './util/private-file.js';
import { redact } from './util/redact.js';
import { sharedSignal } from './pipeline/signals.js';
import { openSink, openSource } from './registry.js';
import { addStats, emptyStats, RunStats } from './pipeline/stats.js';
import { defaultTransforms, loadTransforms, type NamedTransform, type TransformSpec } from './transforms/index.js';
import { adapterOptions } from './pipeline/store-options.js';
import type { CollectionStats, Doc, PlannedCollection, RunReport, Sink, Source, SourceChunk, StoreOptions } from './types.js';
import { prepareDocuments } from './pipeline/prepare.js';

export interface MigrateOptions extends StoreOptions {
  /** A URI (`file:backup.json`, `couchdb://host:5984`, `dynamodb`, `memory:name`, ...) or a Source. */
  from: string | Source;
  /** A URI (`file:out.json.gz`, `dynamodb`, `null`, ...) or a Sink. */
  to: string | Sink;
  /** Only these collections (default: every collection the source holds). */
  collections?: string[];
  /** Transforms in order: built-in names, module paths, or functions. Run after the defaults. */
  transforms?: TransformSpec[];
  /** Leave out the default transforms (`strip-couch-meta`). */
  noDefaultTransforms?: boolean;
  /** Read, transform and check everything; write nothing. */
  dryRun?: boolean;
  /** NDJSON file for documents that could not be written, with their reasons. */
  deadLetter?: string;
  /** JSON file for the run's report. */
  report?: string;
  /** Save progress here; with `resume`, continue from it. */
  checkpoint?: string;
  resume?: boolean;
  /** Aborting stops reading, lets in-flight batches finish, saves the checkpoint: an interrupted run. */
  signal?: AbortSignal;
  /** Called as the run advances (at most every 200 ms) and once at the end. */
  onProgress?: (progress: Progress) => void;
  /** Where relative transform paths are resolved (default: the working directory). */
  cwd?: string;
}

export interface Progress {
  /** Collection being read. */
  collection?: string;
  collections: Record<string, CollectionStats>;
  elapsedMs: number;
  /** Units done / total from the source (bytes of a file), when it knows them. */
  source?: { done: number; total: number };
  /** Documents per collection as the store counts them, where that is cheap. */
  expected: Record<string, number>;
  done: boolean;
}

const progressIntervalMs = 200;

function checkOptions(options: MigrateOptions): void {
  const positive = (name: string, value: number | undefined) => {
    if (value !== undefined && (!Number.isInteger(value) || value < 1)) throw usageError('bad-option', `${name} must be a whole number of at least 1, not ${value}`);
  };
  positive('--concurrency', options.concurrency);
  positive('--batch-size', options.batchSize);
  positive('--segments', options.segments);
  if (options.retries !== undefined && (!Number.isInteger(options.retries) || options.retries < 0)) throw usageError('bad-option', `--retries must be a whole number, not ${options.retries}`);
  if (options.onConflict && !['overwrite', 'skip', 'fail'].includes(options.onConflict)) {
    throw usageError('bad-option', `--on-conflict must be overwrite, skip or fail, not ${options.onConflict}`);
  }
  if (options.resume && !options.checkpoint) throw usageError('bad-option', '--resume needs --checkpoint FILE');
  if (options.resume && options.dryRun) throw usageError('bad-option', '--resume and --dry-run do not go together');
}

/** Adds the counts of `more` into a copy of `into`, collection by collection. */
function mergeStats(into: Record<string, CollectionStats>, more: Record<string, CollectionStats>): Record<string, CollectionStats> {
  const out: Record<string, CollectionStats> = structuredClone(into);
  for (const [name, s] of Object.entries(more)) addStats((out[name] ??= emptyStats()), s);
  return out;
}

/** Runs one migration (or dry run) to the end and reports it. Fatal errors throw an EtlError carrying the partial report. */
export async function migrate(options: MigrateOptions): Promise<RunReport> {
  checkOptions(options);
  const started = Date.now();
  const adapter = adapterOptions(options);
  const warn = adapter.warn;
  const transforms: NamedTransform[] = await loadTransforms(
    [...(options.noDefaultTransforms ? [] : defaultTransforms), ...(options.transforms ?? [])],
    options.cwd,
  );
  const source = typeof options.from === 'string' ? await openSource(options.from, adapter) : options.from;
  let sink: Sink | undefined;
  try {
    sink = typeof options.to === 'string' ? await openSink(options.to, adapter) : options.to;
  } catch (error) {
    await source.close();
    throw error;
  }
  return run(options, source, sink, transforms, warn, started);
}

async function run(
  options: MigrateOptions,
  source: Source,
  sink: Sink,
  transforms: NamedTransform[],
  warn: (m: string) => void,
  started: number,
): Promise<RunReport> {
  const dryRun = options.dryRun ?? false;
  const stats = new RunStats();
  const collections = options.collections?.length ? options.collections : undefined;
  // Stopping (Ctrl-C) ends reading; `hard` also cancels writes in flight (fatal errors).
  const hard = new AbortController();
  const stop = options.signal;
  const writing = sharedSignal(hard.signal);
  const reading = sharedSignal(stop, hard.signal);

  const deadLetters = new DeadLetters(options.deadLetter, Boolean(options.resume), warn);
  let checkpointer: Checkpointer | undefined;
  try {
    checkpointer = dryRun ? undefined : await openCheckpoint(options, source, sink, collections ?? null, deadLetters);
  } catch (error) {
    // Refused before anything was read: close both ends, so no connection outlives the refusal.
    await closeQuietly(() => sink.close(false));
    await closeQuietly(() => source.close());
    throw error;
  }

  const cumulative = () => mergeStats(checkpointer?.previous.stats ?? {}, stats.toJSON());
  const allDeadLetters = () => (checkpointer?.previous.deadLetters ?? 0) + deadLetters.count;
  const writer = new BatchWriter(sink, stats, deadLetters, writing, (position) => checkpointer?.advance(position, cumulative, allDeadLetters));
  const plan: PlannedCollection[] = [];
  const expected: Record<string, number> = {};
  let lastProgress = 0;
  let current: string | undefined;
  const progress = (done: boolean) => {
    if (!options.onProgress) return;
    const now = Date.now();
    if (!done && now - lastProgress < progressIntervalMs) return;
    lastProgress = now;
    options.onProgress({ collection: current, collections: stats.toJSON(), elapsedMs: now - started, source: source.progress?.(), expected, done });
  };

  let failure: unknown;
  try {
    await sink.begin?.({ sourceProvider: source.provider });
    const chunks = source.read({
      collections: collections ? new Set(collections) : undefined,
      resumeFrom: checkpointer?.resumeFrom,
      signal: reading,
    });
    for await (const chunk of chunks) {
      if (chunk.collection !== current) {
        await writer.drain();
        current = chunk.collection;
        stats.of(current);
        if (options.onProgress && source.count) {
          const count = await source.count(current).catch(() => undefined);
          if (count !== undefined) expected[current] = count;
        }
        if (dryRun) plan.push({ collection: current, wouldCreate: await sink.wouldCreate?.(current) });
        else await sink.prepare(current);
      }
      await handleChunk(chunk, { transforms, sink, stats, writer, deadLetters, dryRun, source });
      progress(false);
      if (stop?.aborted) break;
    }
    if (stop?.aborted) await writer.settle();
    else await writer.drain();
  } catch (error) {
    // A source that honours the stop signal ends by throwing an AbortError: that is an interruption.
    if (!(stop?.aborted && (error as Error)?.name === 'AbortError')) {
      failure = error;
      hard.abort();
    }
    await writer.settle();
  }

  const interrupted = !failure && Boolean(stop?.aborted);
  const complete = !failure && !interrupted;
  await closeQuietly(() => sink.close(complete && !dryRun), failure === undefined ? (e) => (failure = e) : undefined);
  await closeQuietly(() => source.close());
  await deadLetters.close();
  if (checkpointer) await checkpointer.save(cumulative(), allDeadLetters(), complete);
  progress(true);
  if (complete) for (const t of transforms) for (const line of t.finish?.() ?? []) warn(line);

  const total = stats.total();
  const report: RunReport = {
    ok: !failure && !interrupted && total.failed === 0,
    interrupted,
    dryRun,
    source: source.label,
    target: sink.label,
    transforms: transforms.map((t) => t.name),
    collections: stats.toJSON(),
    total,
    durationMs: Date.now() - started,
    deadLetters: { count: deadLetters.count, path: deadLetters.count > 0 ? options.deadLetter : undefined },
    checkpoint: options.checkpoint,
    resumable: sink.resumable !== false,
    ...(dryRun ? { plan } : {}),
  };
  if (options.report) await writePrivateAtomic(options.report, JSON.stringify(report, null, 2) + '\n');
  if (failure) {
    const error: EtlError = isEtlError(failure) ? failure : fatalError('run-failed', redact(messageOf(failure)), failure);
    error.report = report;
    throw error;
  }
  return report;
}

/** The run's checkpoint, if asked for; with --resume, the saved one, after checking it belongs to this run. */
async function openCheckpoint(
  options: MigrateOptions,
  source: Source,
  sink: Sink,
  collections: string[] | null,
  deadLetters: DeadLetters,
): Promise<Checkpointer | undefined> {
  if (!options.checkpoint) return undefined;
  const identity = { source: await source.identity(), target: await sink.identity(), collections };
  let resumed: CheckpointData | undefined;
  if (options.resume) {
    resumed = await loadCheckpoint(options.checkpoint);
    if (!resumed) throw usageError('no-checkpoint', `--resume: there is no checkpoint at ${options.checkpoint}`);
    assertSameRun(options.checkpoint, resumed, identity);
    if (resumed.complete) throw usageError('checkpoint-complete', `checkpoint ${options.checkpoint} says this migration already completed; delete it to run again`);
    if (sink.resumable === false) throw usageError('not-resumable', `${sink.label} cannot be resumed into: run again without --resume`);
  }
  return new Checkpointer(options.checkpoint, identity, resumed, () => deadLetters.flush());
}

async function closeQuietly(close: () => Promise<void>, onError?: (error: unknown) => void): Promise<void> {
  try {
    await close();
  } catch (error) {
    onError?.(error);
  }
}

interface ChunkContext {
  transforms: NamedTransform[];
  sink: Sink;
  stats: RunStats;
  writer: BatchWriter;
  deadLetters: DeadLetters;
  dryRun: boolean;
  source: Source;
}

/** Transforms, validates and hands over one source chunk. */
async function handleChunk(chunk: SourceChunk, c: ChunkContext): Promise<void> {
  const { collection } = chunk;
  const stats = c.stats.of(collection);
  const ticket = c.writer.ticket(chunk.position);
  await prepareDocuments(chunk.docs, {
    transforms: c.transforms,
    context: { collection, source: c.source.label, target: c.sink.label },
    check: c.sink.check?.bind(c.sink),
    counts: stats,
    accept: (doc) => {
      if (!c.dryRun) return c.writer.add(collection, doc, ticket);
      stats.written++;
      return undefined;
    },
    reject: (doc, reason, index) => {
      stats.failed++;
      c.deadLetters.add({ collection, _id: (doc as Doc | null)?._id, reason, where: chunk.where?.(index), doc });
    },
  });
  c.writer.seal(ticket);
}
