/**
 * `--follow`: what a run checks before it follows a source's change feed, and how far following
 * has come (changes applied, their rate, the lag the feed reports, changes applied again after a
 * crash). The steps themselves are in pipeline.ts: the feed's head before the snapshot, the
 * snapshot, then the changes through the same chunk handling as the snapshot's documents.
 */
import { usageError } from '../errors.js';
import type { FollowProgress, FollowReport, Lag, Sink, Source, SourceChunk } from '../types.js';
import type { FeedCheckpoint } from './checkpoint.js';

/** What a run with --follow may not be given, checked before the stores are opened. */
export function checkFollowOptions(options: { follow?: boolean; untilCaughtUp?: boolean; dryRun?: boolean; enableStream?: boolean; onConflict?: string; shard?: unknown }): void {
  if (options.untilCaughtUp && !options.follow) throw usageError('bad-option', '--until-caught-up is a way to end --follow: give --follow too');
  if (options.enableStream && !options.follow) throw usageError('bad-option', '--enable-stream turns on a DynamoDB stream for --follow: give --follow too');
  if (options.follow && options.onConflict && options.onConflict !== 'overwrite') {
    throw usageError('bad-option', `--follow applies every update of the source: with --on-conflict ${options.onConflict} its updates would ${options.onConflict === 'skip' ? 'be skipped' : 'fail'} and the target fall behind; leave --on-conflict at overwrite`);
  }
  if (options.follow && options.shard !== undefined) {
    throw usageError('bad-option', '--follow and --shard do not go together: one process follows the whole change feed, so that the changes to each _id are applied in order; follow without --shard');
  }
  if (options.follow && options.dryRun) {
    throw usageError('bad-option', '--follow and --dry-run do not go together: a dry run writes nothing, so there is nothing to keep in step (check the snapshot with --dry-run alone)');
  }
}

/**
 * Refuses, before anything is read or written, a source that cannot be followed or a target that
 * cannot delete. A file is told by its label (`file:…`, from a URI or the library's fileSource):
 * its `provider` is the store its export came from.
 */
export function checkFollowEnds(source: Source, sink: Sink): void {
  if (!source.feed) {
    const why = source.resumable === false
      ? `${source.label} is read once and has no change feed`
      : source.label.startsWith('file:')
        ? `${source.label}: a file has no change feed; follow the store it was exported from (couchdb, dynamodb, firestore) instead, or import the file without --follow`
        : `${source.label} has no change feed to follow`;
    throw usageError('cannot-follow', `--follow: ${why}`);
  }
  if (!sink.remove) {
    throw usageError('cannot-follow', `--follow: ${sink.label} cannot delete documents, so the source's deletes could not be applied: give a target that can (a database, memory, or an NDJSON file)`);
  }
}

/** The collections a feed follows: those chosen; a source that could not say which it holds cannot be followed. */
export function followedCollections(chosen: string[] | undefined, source: Source): ReadonlySet<string> {
  if (!chosen) throw usageError('cannot-follow', `--follow: ${source.label} cannot say which collections it holds: name them with --collections`);
  return new Set(chosen);
}

/** The changes a chunk carries: documents put and `_id`s deleted. */
export function changesIn(chunk: SourceChunk): number {
  return chunk.docs.length + (chunk.deletes?.length ?? 0);
}

/** How far following has come in this run. */
export class FollowState {
  /** Changes handed to the writer by this run, in feed order: a chunk's count is its ticket's `through`. */
  delivered = 0;
  /** Changes answered by the target up to the safe position (this run). */
  applied = 0;
  reapplied = 0;
  lag?: Lag;
  caughtUp = false;
  private readonly started = Date.now();
  /** Changes the feed delivers again that the earlier run had already sent (see FeedCheckpoint.sent). */
  private again: number;

  constructor(resumed: FeedCheckpoint | undefined) {
    this.again = resumed ? Math.max(0, resumed.sent - resumed.applied) : 0;
  }

  /** A chunk from the feed is handed over: answers its `through` (changes delivered up to and including it). */
  deliver(chunk: SourceChunk): number {
    const changes = changesIn(chunk);
    const again = Math.min(this.again, changes);
    this.again -= again;
    this.reapplied += again;
    this.delivered += changes;
    if (chunk.lag) this.lag = chunk.lag;
    this.caughtUp = Boolean(chunk.caughtUp);
    return this.delivered;
  }

  progress(): FollowProgress {
    return { applied: this.applied, elapsedMs: Date.now() - this.started, caughtUp: this.caughtUp, ...(this.lag ? { lag: this.lag } : {}) };
  }

  report(): FollowReport {
    return { ...this.progress(), reapplied: this.reapplied };
  }
}
