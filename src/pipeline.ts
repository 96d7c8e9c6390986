/**
 * source → transforms → validation → batches → bounded concurrent writes → stats, dead letters and
 * checkpoints. Backpressure comes from the structure: the loop reads the next chunk only after
 * handing the previous one to the writer, and the writer makes it wait while every slot is busy,
 * so nothing ever holds more than (concurrency + 1) batches and one source chunk. With `follow`,
 * the source's change feed (its head taken before the snapshot) comes after the snapshot through
 * the same steps, deletes included.
 */
import { checkChosenRead, nothingFound, selectCollections, type Selection } from './pipeline/collections.js';
import { BatchWriter, type Ticket } from './pipeline/batch-writer.js';
import { badId } from './pipeline/validate.js';
import { assertMayStart, assertSameRun, Checkpointer, loadCheckpoint, type CheckpointData, type RunIdentity } from './pipeline/checkpoint.js';
import { DeadLetters } from './pipeline/dead-letter.js';
import { EtlError, fatalError, isEtlError, messageOf, usageError } from './errors.js';
import { writePrivateAtomic } from './util/private-file.js';
import { redact } from './util/redact.js';
import { runSignals, type RunSignals } from './pipeline/signals.js';
import { ProgressReporter } from './pipeline/progress-reporter.js';
import { isStdio, openSink, openSource, parseUri } from './registry.js';
import { formatOfEachSide } from './pipeline/file-formats.js';
import { emptyStats, mergeStats, RunStats, totalOf } from './pipeline/stats.js';
import { checkOutputFiles } from './pipeline/output-files.js';
import { gofannonCollections } from './gofannon.js';
import { defaultTransforms, loadTransforms, type NamedTransform, type TransformSpec } from './transforms/index.js';
import { adapterOptions } from './pipeline/store-options.js';
import type { CollectionStats, Doc, FailedDocument, PlannedCollection, Position, Progress, RunReport, Shard, Sink, Source, SourceChunk, StoreOptions } from './types.js';
import { assertShardable, shardFileName, shardRead, shardText, withShardFiles, type Sharded } from './pipeline/shards.js';
import { prepareDocuments } from './pipeline/prepare.js';
import { checkFollowEnds, checkFollowOptions, FollowState, followedCollections } from './pipeline/follow.js';
import { checkOptions as checkTypes, isBoolean, isFunction, isNames, isShard, isSignal, isSink, isSource, isString, isTransforms, type OptionChecks, storeOptionChecks } from './pipeline/option-checks.js';

export interface MigrateOptions extends StoreOptions {
  /** A URI (`file:backup.json`, `couchdb://host:5984`, `dynamodb`, `memory:name`, ...) or a Source. */
  from: string | Source;
  /** A URI (`file:out.json.gz`, `dynamodb`, `null`, ...) or a Sink. */
  to: string | Sink;
  /** Only these collections, or `['*']` for every one; the default is pipeline/collections.ts's. */
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
  /** Without `resume`: replace a checkpoint that holds another run's progress (see assertMayStart). */
  force?: boolean;
  /** Aborting stops reading, lets in-flight batches finish, saves the checkpoint: an interrupted run. */
  signal?: AbortSignal;
  /** Called as the run advances (at most every 200 ms) and once at the end. */
  onProgress?: (progress: Progress) => void;
  /** Called with every document that could not be written, as it fails (as well as the dead-letter file). */
  onFailed?: (failure: FailedDocument) => void;
  /** Where relative transform paths are resolved (default: the working directory). */
  cwd?: string;
  /**
   * Only this share of the source (`--shard`): `{ index, count }`, or `'2/4'` / `'auto/4'` as on
   * the command line. The report, dead letters, checkpoint and a file target get the shard in their name.
   */
  shard?: Shard | string;
  /**
   * After the snapshot, apply the source's later changes (creates, updates, deletes) until
   * `signal` aborts, which ends the run well (not as an interruption).
   */
  follow?: boolean;
  /** With `follow`: end by itself once the changes waiting at the source's head are applied. */
  untilCaughtUp?: boolean;
}

export { shardFileName };

/** The options once the shard is resolved and the files named for it (pipeline/shards.ts). */
type RunOptions = Sharded<MigrateOptions>;

/** What each option takes, checked for JavaScript callers (see pipeline/option-checks.ts). */
const migrateOptionChecks: OptionChecks<MigrateOptions> = {
  ...storeOptionChecks,
  from: isSource,
  to: isSink,
  collections: isNames,
  transforms: isTransforms,
  noDefaultTransforms: isBoolean,
  dryRun: isBoolean,
  deadLetter: isString,
  report: isString,
  checkpoint: isString,
  resume: isBoolean,
  force: isBoolean,
  signal: isSignal,
  onProgress: isFunction,
  onFailed: isFunction,
  cwd: isString,
  shard: isShard,
  follow: isBoolean,
  untilCaughtUp: isBoolean,
};

/** Why a count option (`--batch-size`, `--workers`) is not one; a word where a number goes arrives as NaN, so that is not echoed. */
export function countProblem(name: string, value: number | undefined): string | undefined {
  if (value === undefined || (Number.isInteger(value) && value >= 1)) return undefined;
  return `${name} must be a whole number of at least 1${Number.isNaN(value) ? '' : `, not ${value}`}`;
}

function checkOptions(options: MigrateOptions): void {
  const positive = (name: string, value: number | undefined) => {
    const problem = countProblem(name, value);
    if (problem) throw usageError('bad-option', problem);
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
  checkFollowOptions(options);
}

/**
 * Runs one migration (or dry run) to the end and reports it. Any failure throws an EtlError carrying
 * the report (`ok: false`, the error's line, the counts so far), and `--report` is written for every
 * ending: a report file never shows an earlier run's success for a run that failed before it began.
 */
export async function migrate(options: MigrateOptions): Promise<RunReport> {
  // Options of the wrong types are a mistake in the call itself, before there is a run to report.
  checkTypes('migrate', options, migrateOptionChecks);
  const started = Date.now();
  let report: RunReport;
  // A shard that cannot be resolved reports under the name given: there is no shard to name it for.
  let named: MigrateOptions | RunOptions = options;
  try {
    const sharded = withShardFiles(options, shardTarget);
    named = sharded;
    report = await start(sharded, started);
  } catch (error) {
    const failure = withFailureReport(error, named, started);
    // The report's own file may be what failed (its directory is missing): the error says more.
    if (named.report) await writeReport(named.report, failure.report!).catch(() => undefined);
    throw failure;
  }
  if (named.report) await writeReport(named.report, report);
  return report;
}

function writeReport(path: string, report: RunReport): Promise<void> {
  return writePrivateAtomic(path, JSON.stringify(report, null, 2) + '\n');
}

/** The error as an EtlError whose report says the run failed, why, and what it had done. */
function withFailureReport(error: unknown, options: MigrateOptions | RunOptions, started: number): EtlError {
  const failure = isEtlError(error) ? error : fatalError('run-failed', redact(messageOf(error)), error);
  const partial = failure.report ?? nothingDone(options.dryRun ?? false, labelOf(options.from), labelOf(options.to), [], started);
  // A refused shard's report still says which share it stands for (once the shard is known).
  const shard = typeof options.shard === 'object' ? { shard: options.shard } : {};
  failure.report = { ...shard, ...partial, ok: false, error: redact(messageOf(failure)).split('\n')[0] };
  return failure;
}

const labelOf = (end: string | Source | Sink) => (typeof end === 'string' ? redact(end) : end.label);

/** The report of a run that stopped before it read anything. */
function nothingDone(dryRun: boolean, source: string, target: string, transforms: string[], started: number): RunReport {
  const durationMs = Date.now() - started;
  return { ok: false, interrupted: false, dryRun, source, target, transforms, collections: {}, total: emptyStats(), durationMs, deadLetters: { count: 0 }, resumable: false };
}

/** Checks the options and the files the run writes, opens both ends and runs. */
async function start(options: RunOptions, started: number): Promise<RunReport> {
  checkOptions(options);
  await checkOutputFiles({ '--report': options.report, '--dead-letter': options.deadLetter, '--checkpoint': options.checkpoint });
  const adapter = adapterOptions(options);
  const warn = adapter.warn;
  const transforms: NamedTransform[] = await loadTransforms(
    [...(options.noDefaultTransforms ? [] : defaultTransforms), ...(options.transforms ?? [])],
    options.cwd,
  );
  const formats = formatOfEachSide(adapter.format, filePath(options.from), filePath(options.to));
  const source = typeof options.from === 'string' ? await openSource(options.from, { ...adapter, format: formats.source }) : options.from;
  let sink: Sink | undefined;
  try {
    sink = typeof options.to === 'string' ? await openSink(options.to, { ...adapter, format: formats.target, follow: options.follow }) : options.to;
  } catch (error) {
    await source.close();
    throw error;
  }
  return run(options, source, sink, transforms, warn, started);
}

/** The path of a `file:` store, for deciding what `--format` describes; undefined for any other store. */
function filePath(store: string | Source | Sink): string | undefined {
  if (typeof store !== 'string') return undefined;
  const uri = parseUri(store);
  return uri.scheme === 'file' ? uri.rest : undefined;
}

/** A shard's file target: `file:out.ndjson` → `file:out.shard-2-of-4.ndjson`. stdout is each process's own; other stores take every shard's writes. */
function shardTarget(to: string | Sink, shard: Shard): string | Sink {
  const path = typeof to === 'string' && !isStdio(to) ? filePath(to) : undefined;
  return path ? `file:${shardFileName(path, shard)}` : to;
}

/** What every step of a run works on. */
interface Run {
  options: RunOptions;
  source: Source;
  sink: Sink;
  transforms: NamedTransform[];
  /** With --shard read by the hash split (pipeline/shards.ts): keeps this shard's documents of each chunk. */
  keep?: (chunk: SourceChunk) => SourceChunk;
  dryRun: boolean;
  /** The collections asked for (`--collections`); undefined when none were named. */
  collections?: string[];
  /** What the run reads, chosen from the source by pipeline/collections.ts before the preflight. */
  selection?: Selection;
  signals: RunSignals;
  stats: RunStats;
  deadLetters: DeadLetters;
  checkpointer?: Checkpointer;
  writer: BatchWriter;
  progress: ProgressReporter;
  /** With dryRun: what the target would create, per collection. */
  plan: PlannedCollection[];
  /** With dryRun: what the target's preflight found, for every collection checked. */
  problems: string[];
  /** Collections the target's preflight has seen, and whether it found them fit. */
  checked: Map<string, boolean>;
  /** The preflight passed and documents began to flow: from here on there is progress to save. */
  copying: boolean;
  /** Collections whose container this run has prepared. */
  prepared: Set<string>;
  /** With follow: the collections the feed follows, and where following starts without a checkpoint. */
  followed?: ReadonlySet<string>;
  feedStart?: Position;
  /** The snapshot is copied: following has begun. */
  following?: FollowState;
  started: number;
  warn: (message: string) => void;
}

/** A run's steps in order: signals, checkpoint, the target's preflight, the main loop, teardown, the report. */
async function run(
  options: RunOptions,
  source: Source,
  sink: Sink,
  transforms: NamedTransform[],
  warn: (m: string) => void,
  started: number,
): Promise<RunReport> {
  const dryRun = options.dryRun ?? false;
  const collections = options.collections?.length ? options.collections : undefined;
  const signals = runSignals(options.signal);
  const deadLetters = new DeadLetters(options.deadLetter, Boolean(options.resume), warn, options.onFailed);
  let checkpointer: Checkpointer | undefined;
  try {
    if (options.shard) assertShardable(options.shard, source);
    if (options.follow) checkFollowEnds(source, sink);
    checkpointer = dryRun ? undefined : await openCheckpoint(options, source, sink, collections ?? null, transforms, deadLetters);
  } catch (error) {
    // Refused before anything was read: close both ends, so no connection outlives the refusal.
    await closeQuietly(() => sink.close(false));
    await closeQuietly(() => source.close());
    if (isEtlError(error)) error.report ??= nothingDone(dryRun, source.label, sink.label, transforms.map((t) => t.name), started);
    throw error;
  }
  const stats = new RunStats();
  let following: FollowState | undefined;
  const onSafe = (position: Position, safe: Record<string, CollectionStats>, through: number | undefined, everything: boolean) => {
    checkpointer?.advance(position, safe, through, everything);
    if (following && through !== undefined) following.applied = through;
  };
  // A follow's checkpoint records what may be sent before it is sent, a writer's window ahead, to count what a resume applies again.
  const beforeSend = checkpointer && options.follow ? (through: number) => checkpointer.sending(through, sink.batchSize * sink.concurrency) : undefined;
  const writer = new BatchWriter(sink, stats, deadLetters, signals.writing, onSafe, beforeSend);
  const progress = new ProgressReporter(options.onProgress, source, stats, started, !options.shard);
  const r: Run = { options, source, sink, transforms, dryRun, collections, signals, stats, deadLetters, checkpointer, writer, progress, plan: [], problems: [], checked: new Map(), copying: false, prepared: new Set(), started, warn };

  let failure = await checkTarget(r);
  if (!failure && options.follow) failure = await openFeed(r);
  const stoppedEarly = options.follow && signals.stop?.aborted;
  // A resumed follow whose snapshot was copied goes straight to its changes.
  if (!failure && !stoppedEarly && !checkpointer?.feed?.position) failure = await copy(r);
  if (!failure && options.follow && !signals.stop?.aborted) {
    r.following = following = new FollowState(checkpointer?.feed);
    progress.following = following;
    failure = await follow(r);
  }
  // Stopping a follow once its snapshot is copied is how it ends, not an interruption.
  const interrupted = !failure && Boolean(signals.stop?.aborted) && !r.following;
  failure = await teardown(r, failure, interrupted);
  const report = runReport(r, failure, interrupted);
  if (failure) {
    const error: EtlError = isEtlError(failure) ? failure : fatalError('run-failed', redact(messageOf(failure)), failure);
    error.report = report;
    throw error;
  }
  return report;
}

/**
 * The collections a run will write, for the target's preflight: those chosen from the source. A
 * source that cannot list them (stdin, a gzipped export with its metadata last) may hold any: then the target checks the containers of Gofannon's collections, and `prepare` checks
 * each collection the source turns out to hold (see Sink.preflight).
 */
function collectionsToCheck(selection: Selection): readonly string[] {
  return selection.chosen ?? gofannonCollections;
}

/**
 * The collections the run reads (refused when a named one is not there, or nothing is found), then
 * the target's preflight over them, before the first document; answers the refusal, if any.
 */
async function checkTarget(r: Run): Promise<unknown> {
  try {
    r.selection = await selectCollections(r.source, r.collections, r.warn);
    await preflight(r, collectionsToCheck(r.selection));
    return undefined;
  } catch (error) {
    return error;
  }
}

/**
 * Every problem the target has with these collections. A run refuses
 * with the first (one line, its own exit code) and says how many more there are; a dry run lists
 * them all and goes on, to check the documents too.
 */
async function preflight(r: Run, collections: readonly string[]): Promise<void> {
  const { sink } = r;
  if (!sink.preflight) return;
  const unchecked = collections.filter((c) => !r.checked.has(c));
  // One collection at a time (in parallel), so each problem is known to be its collection's.
  const found = await Promise.all(unchecked.map((c) => sink.preflight!([c])));
  unchecked.forEach((c, i) => r.checked.set(c, found[i]!.length === 0));
  const problems = found.flat();
  if (problems.length === 0) return;
  if (r.dryRun) {
    r.problems.push(...problems.map((p) => redact(p.message)));
    return;
  }
  const first = problems[0]!;
  if (problems.length > 1) first.message += ` (and ${problems.length - 1} more: --dry-run lists them all)`;
  throw first;
}

/**
 * The main loop: every chunk of the source through the transforms to the writer, each collection
 * prepared (or, dry, planned) before its first chunk. Stops reading when the run is stopped.
 * Answers the error that ended the run, or undefined when it ended well or was interrupted.
 */
async function copy(r: Run): Promise<unknown> {
  const { source, sink, writer, signals } = r;
  try {
    r.copying = true;
    const selection = r.selection!;
    await sink.begin?.({ sourceProvider: source.provider, resumed: Boolean(r.options.resume) });
    const { shard } = r.options;
    r.keep = shard && shardRead(shard, source, selection.unconfirmed, r.warn);
    const chunks = source.read({
      // A shard that hashes reads the whole source.
      shard: r.keep ? undefined : shard,
      collections: selection.chosen ? new Set(selection.chosen) : undefined,
      resumeFrom: r.checkpointer?.resumeFrom,
      signal: signals.reading,
    });
    try {
      for await (const chunk of chunks) {
        if (chunk.collection !== r.progress.current) await enterCollection(r, chunk.collection);
        await handleChunk(r.keep ? r.keep(chunk) : chunk, r);
        r.progress.report(false);
        if (signals.stop?.aborted) break;
      }
    } catch (error) {
      if (!stoppedBy(error, signals)) throw error;
    }
    // Stopped or not, the chunks handed over are finished (one partial batch at most): a stopped
    // run's checkpoint then stands exactly for what the target holds, and its resume sends none of it again.
    await writer.drain();
    if (!signals.stop?.aborted && foundNothing(r, selection.listed)) throw nothingFound(source);
    // A resumed run skips what its first run read, a shard on a split what the others read: only a whole read can tell what was not there.
    if (!signals.stop?.aborted && !r.checkpointer?.resumeFrom && !splitShard(r)) await checkChosenRead(source, selection, new Set(Object.keys(r.stats.toJSON())));
    return undefined;
  } catch (error) {
    signals.fail();
    await writer.settle();
    return error;
  }
}

/** A source that honours the stop signal ends by throwing an AbortError (or the stop's reason): that is a stop, not a failure. */
function stoppedBy(error: unknown, signals: RunSignals): boolean {
  const stop = signals.stop;
  return Boolean(stop?.aborted) && ((error as Error)?.name === 'AbortError' || error === stop!.reason);
}

/**
 * `--follow`, before the snapshot: the feed's head, saved in the checkpoint at once, so no change
 * made during the snapshot is lost. A resumed follow keeps the head its first run took.
 */
async function openFeed(r: Run): Promise<unknown> {
  try {
    const saved = r.checkpointer?.feed;
    if (saved) {
      r.followed = new Set(saved.collections);
      r.copying = true;
      return undefined;
    }
    r.followed = followedCollections(r.selection!.chosen, r.source);
    if (r.checkpointer?.resumeFrom) {
      throw usageError('cannot-follow', `checkpoint ${r.checkpointer.path} was saved by a run without --follow, so the changes made since its snapshot began are not known: resume it without --follow, or follow with another --checkpoint (which copies the snapshot again)`);
    }
    r.feedStart = await r.source.feed!.head([...r.followed], r.signals.reading);
    r.copying = true;
    await r.checkpointer?.beginFeed(r.feedStart, [...r.followed]);
    return undefined;
  } catch (error) {
    // Stopped while asking for the head: an interruption before anything was copied.
    return stoppedBy(error, r.signals) ? undefined : error;
  }
}

/**
 * `--follow`, once the snapshot is copied: the feed's changes from its head (or from the saved
 * position) through the same chunk handling, until stopped, or, with untilCaughtUp, until a chunk
 * that reaches the source's head has been applied. Collections are prepared as they first come
 * (a resumed follow copied none); the writer is not drained between them.
 */
async function follow(r: Run): Promise<unknown> {
  const { source, sink, writer, signals, checkpointer, following } = r;
  try {
    const saved = checkpointer?.feed;
    if (saved?.position) await sink.begin?.({ sourceProvider: source.provider, resumed: true });
    const from = saved?.position ?? saved?.start ?? r.feedStart!;
    await checkpointer?.startFollowing();
    // A source with nothing changing gives no chunks: progress still says, now and then, that the follow is alive.
    const heartbeat = setInterval(() => r.progress.report(false), heartbeatMs).unref();
    try {
      // The target's ids, for a feed with no log of deletes to resume from (Firestore): the snapshot
      // is drained by now, so they are all the target holds.
      const held = sink.ids && ((collection: string) => sink.ids!(collection, signals.reading));
      for await (const chunk of source.feed!.changes({ collections: r.followed!, from, signal: signals.reading, held })) {
        if (!r.prepared.has(chunk.collection)) await prepareCollection(r, chunk.collection);
        await handleChunk(chunk, r, following!.deliver(chunk));
        // The next change may be long in coming: this one goes out now, not when a batch is full.
        await writer.flush();
        r.progress.report(false);
        if (signals.stop?.aborted || (r.options.untilCaughtUp && chunk.caughtUp)) break;
      }
    } catch (error) {
      if (!stoppedBy(error, signals)) throw error;
    } finally {
      clearInterval(heartbeat);
    }
    await writer.drain();
    return undefined;
  } catch (error) {
    signals.fail();
    await writer.settle();
    return error;
  }
}

/** How often a follow reports progress while its source is quiet. */
const heartbeatMs = 1000;

/** A collection's container, prepared once per run before its first write. */
async function prepareCollection(r: Run, collection: string): Promise<void> {
  r.prepared.add(collection);
  r.stats.of(collection);
  await r.sink.prepare(collection);
}

/**
 * Never a quiet empty success: no collection at all, or (from a store that could not say what it
 * holds, like the Firestore emulator) not one document. A resumed run may rightly have nothing left.
 */
function foundNothing(r: Run, listed: boolean): boolean {
  if (r.checkpointer?.resumeFrom) return false;
  // A shard's share of a small source may rightly be empty (the shards' reports together tell); one
  // that hashes sees every chunk go by, and finds nothing only where the whole source holds nothing.
  if (splitShard(r)) return false;
  if (r.options.shard) return r.progress.current === undefined;
  return r.progress.current === undefined || (!listed && r.stats.total().read === 0);
}

/** A shard that reads only its part of the source (on the source's own split points, not by hashing). */
function splitShard(r: Run): boolean {
  return Boolean(r.options.shard && !r.keep);
}

/** Before a collection's first chunk: the previous collection's batches answered, this one's container prepared. */
async function enterCollection(r: Run, collection: string): Promise<void> {
  await r.writer.drain();
  r.stats.of(collection);
  await r.progress.enter(collection);
  if (!r.dryRun) return prepareCollection(r, collection);
  // A collection the source could not list up front is checked as it comes.
  await preflight(r, [collection]);
  const fits = r.checked.get(collection) ?? true;
  r.plan.push({ collection, wouldCreate: fits ? await r.sink.wouldCreate?.(collection) : undefined });
}

/**
 * Closes both ends and the dead letters and saves the checkpoint, whatever happened. A target that
 * fails to close (a file not finished) fails a run that had not failed yet; answers the run's failure.
 */
async function teardown(r: Run, failure: unknown, interrupted: boolean): Promise<unknown> {
  const complete = !failure && !interrupted;
  await closeQuietly(() => r.sink.close(complete && !r.dryRun), failure === undefined ? (e) => (failure = e) : undefined);
  await closeQuietly(() => r.source.close());
  await r.deadLetters.close();
  // Refused before the first document: the checkpoint at the path (another part's, or none) stays as it was.
  // Every document was answered when the run ended well; a follow can always go on from where it ended.
  if (r.checkpointer && r.copying) await r.checkpointer.finish(complete && !r.options.follow, complete ? r.stats.toJSON() : undefined);
  r.progress.report(true);
  // What the transforms have to say about the whole run (e.g. fields they never found).
  if (complete) for (const t of r.transforms) for (const line of t.finish?.() ?? []) r.warn(line);
  return failure;
}

/** The report of the whole migration: after a resume, the earlier runs' counts are included (and named `earlier`). */
function runReport(r: Run, failure: unknown, interrupted: boolean): RunReport {
  const { options } = r;
  const collections = mergeStats(r.checkpointer?.earlier.stats ?? {}, r.stats.toJSON());
  const total = totalOf(collections);
  const earlier = r.checkpointer?.earlier.stats ?? {};
  const deadLetters = (r.checkpointer?.earlier.deadLetters ?? 0) + r.deadLetters.count;
  return {
    ok: !failure && !interrupted && total.failed === 0 && r.problems.length === 0,
    interrupted,
    dryRun: r.dryRun,
    source: r.source.label,
    target: r.sink.label,
    transforms: r.transforms.map((t) => t.name),
    collections,
    total,
    durationMs: Date.now() - r.started,
    deadLetters: { count: deadLetters, path: deadLetters > 0 ? options.deadLetter : undefined },
    // Named only when this run saved it: a run refused before its first document saved none.
    checkpoint: r.checkpointer && r.copying ? options.checkpoint : undefined,
    resumable: resumableRun(r.source, r.sink),
    ...(options.shard ? { shard: options.shard } : {}),
    ...(r.dryRun ? { plan: r.plan, problems: r.problems } : {}),
    ...(failure ? { error: redact(messageOf(failure)).split('\n')[0] } : {}),
    ...(Object.keys(earlier).length > 0 ? { earlier: totalOf(earlier) } : {}),
    ...(r.following ? { follow: r.following.report() } : {}),
  };
}

/** The options that change what a run reads or writes, as a checkpoint records them (see RunIdentity). */
function runSettings(options: RunOptions, transforms: NamedTransform[]): RunIdentity['settings'] {
  return {
    '--transform': transforms.map((t) => t.name),
    // The same names may do something else: a module edited, another argument to a built-in.
    'transform code': transforms.map((t) => t.fingerprint ?? t.name),
    '--on-conflict': options.onConflict ?? 'overwrite',
    '--include-design': options.includeDesign ?? false,
    '--segments': options.segments ?? null,
    '--format': options.format ?? null,
    '--collection-name': options.collectionName ?? null,
    // A shard continues only its own checkpoint, even one given under another shard's file name.
    '--shard': options.shard ? shardText(options.shard) : null,
    '--follow': options.follow ?? false,
  };
}

/** Whether a stopped run can continue where it stopped: neither a target written whole nor a source read once. */
function resumableRun(source: Source, sink: Sink): boolean {
  return sink.resumable !== false && source.resumable !== false;
}

/** The run's checkpoint, if asked for; with --resume, the saved one, after checking it belongs to this run. */
async function openCheckpoint(
  options: RunOptions,
  source: Source,
  sink: Sink,
  collections: string[] | null,
  transforms: NamedTransform[],
  deadLetters: DeadLetters,
): Promise<Checkpointer | undefined> {
  if (!options.checkpoint) return undefined;
  const identity: RunIdentity = { source: await source.identity(), target: await sink.identity(), collections, settings: runSettings(options, transforms) };
  let resumed: CheckpointData | undefined;
  if (!options.resume) await assertMayStart(options.checkpoint, identity, { force: options.force ?? false, resumable: resumableRun(source, sink) });
  else {
    resumed = await loadCheckpoint(options.checkpoint);
    if (!resumed) throw usageError('no-checkpoint', `--resume: there is no checkpoint at ${options.checkpoint}`);
    assertSameRun(options.checkpoint, resumed, identity);
    if (resumed.complete) throw usageError('checkpoint-complete', `checkpoint ${options.checkpoint} says this migration already completed; delete it to run again`);
    if (sink.resumable === false) throw usageError('not-resumable', `${sink.label} cannot be resumed into: run again without --resume`);
    if (source.resumable === false) throw usageError('not-resumable', `${source.label} is read only once and cannot be resumed from: run again without --resume`);
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

/**
 * Transforms, validates and hands over one source chunk: its documents to write, or its deletions.
 * `through`: a change feed's count of changes up to and including this chunk (FollowState).
 */
async function handleChunk(chunk: SourceChunk, c: Run, through?: number): Promise<void> {
  const { collection } = chunk;
  const { writer } = c;
  // Counted against the chunk's ticket too, so a checkpoint counts exactly the documents before its position.
  const ticket = writer.ticket(collection, chunk.position);
  ticket.through = through;
  const fail = (doc: unknown, reason: string, where: string | undefined) => {
    writer.tally(ticket, 'failed');
    c.deadLetters.add({ collection, _id: (doc as Doc | null)?._id, reason, where, doc });
  };
  // Entries the source read but could not give as documents: counted as read, dead-lettered.
  for (const entry of chunk.refused ?? []) {
    writer.tally(ticket, 'read');
    fail(entry.doc, entry.reason, entry.where);
  }
  await prepareDocuments(chunk.docs, {
    transforms: c.transforms,
    settled: chunk.settled,
    context: { collection, source: c.source.label, target: c.sink.label },
    check: c.sink.check?.bind(c.sink),
    count: (what) => writer.tally(ticket, what),
    accept: (doc) => {
      if (!c.dryRun) return writer.add(collection, doc, ticket);
      writer.tally(ticket, 'written');
      return undefined;
    },
    reject: (doc, reason, index) => fail(doc, reason, chunk.where?.(index)),
  });
  await handleDeletes(chunk, ticket, c);
  writer.seal(ticket);
}

/**
 * A chunk's deletions, in order, each counted as read: removed from the target by `_id` (a change
 * feed's deletes, a change log's tombstones). Transforms see documents, not deletions: an `_id` is
 * removed as the source names it.
 */
async function handleDeletes(chunk: SourceChunk, ticket: Ticket, c: Run): Promise<void> {
  const { collection, deletes } = chunk;
  if (!deletes?.length) return;
  const { writer, sink } = c;
  if (!sink.remove && !c.dryRun) {
    throw fatalError('cannot-delete', `${sink.label} cannot delete documents, and ${c.source.label} deletes ${collection} _id ${deletes[0]}: give a target that can (a database, memory, or an NDJSON file)`);
  }
  for (const [index, id] of deletes.entries()) {
    writer.tally(ticket, 'read');
    if (typeof id !== 'string' || id === '') {
      writer.tally(ticket, 'failed');
      c.deadLetters.add({ collection, _id: id, reason: `cannot delete: ${badId({ _id: id })}`, where: chunk.where?.(index), doc: undefined });
    } else if (c.dryRun) writer.tally(ticket, 'deleted');
    else {
      const wait = writer.remove(collection, id, ticket);
      if (wait) await wait;
    }
  }
}

// What the CLI's --workers parent and `report merge` use of a run's parts, besides migrate().
export { mergeReports } from './pipeline/report-merge.js';
export { loadCheckpoint, type CheckpointData } from './pipeline/checkpoint.js';
export { mergeStats, totalOf } from './pipeline/stats.js';
export { checkOutputFiles } from './pipeline/output-files.js';
