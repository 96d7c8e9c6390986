/**
 * `--checkpoint FILE`: how far a run has been written, saved durably (temp file, fsync, rename) and
 * often, so `--resume` continues after a crash. It stores only positions the sink acknowledged (see
 * BatchWriter), and the identities of source and target, so a checkpoint is never applied to
 * another run's data.
 */
import { readFile } from 'node:fs/promises';
import { usageError } from '../errors.js';
import { writePrivateAtomic } from '../util/private-file.js';
import { redact } from '../util/redact.js';
import { mergeStats, totalOf } from './stats.js';
import type { CollectionStats, JsonValue, Position } from '../types.js';

export interface CheckpointData {
  version: 1;
  source: string;
  target: string;
  collections: string[] | null;
  /** See RunIdentity; absent in checkpoints written before it was recorded. */
  settings?: Record<string, JsonValue>;
  position: Position | null;
  /** Counts of the whole migration (every run of it) up to `position`, so a resume counts nothing twice. */
  stats: Record<string, CollectionStats>;
  deadLetters: number;
  complete: boolean;
  updatedAt: string;
  /** With --follow: where the change feed stands. */
  feed?: FeedCheckpoint;
}

/**
 * A follow run's place in its source's change feed. `start` is taken before the snapshot, so a
 * resume that finishes the snapshot follows from there; once the snapshot is copied, `position`
 * says how far every change has been applied, and a resume follows from it without copying again.
 */
export interface FeedCheckpoint {
  start: Position;
  /** The collections followed, as chosen by the first run: a resume follows these, not what the source holds by then. */
  collections: string[];
  /** Null until the snapshot is copied. */
  position: Position | null;
  /** Changes applied up to `position`, by every run of the migration. */
  applied: number;
  /**
   * How many changes the run may have sent to the target: written before a batch goes past it.
   * While changes come fast (the last such save is younger than saveIntervalMs), a save records a
   * writer's window (batch size × concurrency) ahead, so one save covers many batches. After a
   * crash, the changes the feed delivers again up to it (`sent - applied` at most) are those a
   * resume may apply twice: the count never falls short, and exceeds the truth by one window at most.
   */
  sent: number;
}

/**
 * How often a checkpoint is rewritten while positions advance. After a crash, everything written
 * since the last save is sent again: at thousands of documents a second, a one-second interval
 * re-sent thousands. A save is one small fsynced file, and saves never queue up (see advance), so
 * a slow disk only makes them rarer.
 */
const saveIntervalMs = 100;

export async function loadCheckpoint(path: string, hint = ''): Promise<CheckpointData | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw usageError('checkpoint-unreadable', `cannot read checkpoint ${path}: ${(error as Error).message}${hint}`);
  }
  try {
    const data = JSON.parse(text) as CheckpointData;
    if (data.version !== 1) throw new Error(`unknown version ${String(data.version)}`);
    return data;
  } catch (error) {
    throw usageError('checkpoint-unreadable', `checkpoint ${path} is not a gofannon-etl checkpoint: ${(error as Error).message}${hint}`);
  }
}

/**
 * What a run is, for its checkpoint: a checkpoint is only continued, or replaced without --force,
 * by the same run. `settings` are the options that change what is read or written (transforms,
 * --on-conflict, ...), each under the name the user knows it by.
 */
export type RunIdentity = Pick<CheckpointData, 'source' | 'target' | 'collections'> & { settings: Record<string, JsonValue> };

/** How the checkpoint's run differs from this one, in one line; undefined when it is the same run. */
export function runDifference(data: CheckpointData, run: RunIdentity): string | undefined {
  const differs = (what: string, then: string, now: string) => `its ${what} was ${then}, this run's is ${now}`;
  if (data.source !== run.source) return differs('source', data.source, run.source);
  if (data.target !== run.target) return differs('target', data.target, run.target);
  const list = (c: string[] | null) => (c ? c.join(',') : 'all collections');
  if (list(data.collections) !== list(run.collections)) return differs('--collections', list(data.collections), list(run.collections));
  // Checkpoints written before settings were recorded are compared on the rest only.
  for (const [name, now] of Object.entries(run.settings)) {
    if (!data.settings || !(name in data.settings)) continue;
    const shown = (value: JsonValue | undefined) => (Array.isArray(value) ? value.join(' then ') || 'none' : String(value ?? 'none'));
    if (JSON.stringify(data.settings[name]) !== JSON.stringify(now)) return differs(name, shown(data.settings[name]), shown(now));
  }
  return undefined;
}

/** Refuses a checkpoint written for another source, target, choice of collections or settings. */
export function assertSameRun(path: string, data: CheckpointData, run: RunIdentity): void {
  const difference = runDifference(data, run);
  if (difference) throw usageError('checkpoint-mismatch', redact(`checkpoint ${path} belongs to another run: ${difference}`));
}

/**
 * A run without --resume starts a new checkpoint. It may replace what is at the path only when
 * nothing is lost: no file, a checkpoint of this same run with nothing left to resume (it finished,
 * or the run cannot be resumed at all: a file target is written whole, stdin is read once), or
 * --force. Anything else is another run's progress, or not a checkpoint.
 */
export async function assertMayStart(path: string, run: RunIdentity, { force, resumable }: { force: boolean; resumable: boolean }): Promise<void> {
  if (force) return;
  const existing = await loadCheckpoint(path, ' (give --force to replace it)');
  if (!existing) return;
  const difference = runDifference(existing, run);
  if ((existing.complete || !resumable) && !difference) return;
  const written = Object.values(existing.stats).reduce((n, s) => n + s.written, 0);
  const state = existing.complete ? 'a finished run' : `an unfinished run (${written} documents written)`;
  const belongs = difference ? ` of another migration (${difference})` : '';
  const next = difference || existing.complete ? 'give another --checkpoint FILE' : 'continue it with --resume';
  throw usageError('checkpoint-exists', redact(`checkpoint ${path} holds ${state}${belongs}: ${next}, or --force to replace it`));
}

export class Checkpointer {
  private data: CheckpointData;
  /** This run's counts up to the position: documents after it are read and counted again by a resume. */
  private stats: Record<string, CollectionStats> = {};
  private lastSave = 0;
  private saving: Promise<void> = Promise.resolve();
  /** A save not begun yet, shared by every `sending` call made before it begins. */
  private nextSave?: Promise<void>;
  /** `feed.sent` as the file on disk says it. */
  private savedSent = 0;
  /** When the last save for `sending` ended. */
  private lastSending = 0;
  /** Changes the earlier runs applied: this run's counts start after them. */
  private readonly feedBase: number;
  /** The snapshot is copied: positions are the feed's from here on. */
  private following = false;
  /** A background save is running: the next one waits for a later position instead of queueing. */
  private backgroundSave = false;
  /** A failed background save, reported by the next explicit save. */
  private failure?: unknown;
  /** A background save put off until saveIntervalMs has passed since the last one. */
  private trailing?: NodeJS.Timeout;
  /** The run's last save has begun (see finish). */
  private ended = false;

  constructor(
    readonly path: string,
    run: RunIdentity,
    resumed: CheckpointData | undefined,
    /** Makes everything the checkpoint counts durable first (the dead-letter file). */
    private readonly beforeSave: () => Promise<void>,
  ) {
    this.data = resumed ?? { version: 1, ...run, position: null, stats: {}, deadLetters: 0, complete: false, updatedAt: '' };
    this.earlier = resumed ? { stats: resumed.stats, deadLetters: resumed.deadLetters } : { stats: {}, deadLetters: 0 };
    this.feedBase = resumed?.feed?.applied ?? 0;
    this.savedSent = resumed?.feed?.sent ?? 0;
  }

  get resumeFrom(): Position | undefined {
    return this.data.position ?? undefined;
  }

  /** The change feed's place, when this migration follows one (and, resumed, has begun to). */
  get feed(): FeedCheckpoint | undefined {
    return this.data.feed && { ...this.data.feed };
  }

  /** The feed's head, taken before the snapshot: saved at once, so a crash during the snapshot loses no change. */
  beginFeed(start: Position, collections: string[]): Promise<void> {
    this.data.feed = { start, collections, position: null, applied: 0, sent: 0 };
    return this.save(false);
  }

  /** The snapshot is copied: from here on, safe positions are the feed's. Saved at once. */
  startFollowing(): Promise<void> {
    const feed = this.data.feed!;
    feed.position ??= feed.start;
    this.following = true;
    return this.save(false);
  }

  /**
   * Before the writer sends changes up to `through` (counted from this run's first): waits until
   * the checkpoint on disk says they may have been sent, so a resume after a crash knows how many
   * it may apply again. Changes coming fast, a save records `window` changes more, so the batches
   * after this one go without waiting; calls made while a save runs share the next one.
   */
  async sending(through: number, window: number): Promise<void> {
    const feed = this.data.feed!;
    const sent = this.feedBase + through;
    if (this.savedSent >= sent) return;
    const busy = Date.now() - this.lastSending < saveIntervalMs;
    feed.sent = Math.max(feed.sent, sent + (busy ? window : 0));
    while (this.savedSent < sent) {
      feed.sent = Math.max(feed.sent, sent);
      this.nextSave ??= this.saving.catch(() => undefined).then(() => {
        this.nextSave = undefined;
        return this.save(false);
      });
      await this.nextSave;
    }
    this.lastSending = Date.now();
  }

  /** Counts carried over from the runs before a resume (none for a new run). */
  readonly earlier: Pick<CheckpointData, 'stats' | 'deadLetters'>;

  /**
   * Records a new safe position and this run's counts up to it (BatchWriter's safe counts); writes
   * it at most every saveIntervalMs, one save at a time. While following, the position is the
   * feed's, `through` the changes this run applied up to it, and `everything` says nothing is in
   * flight past it: then nothing was sent past it either, whatever `sending` recorded ahead.
   */
  advance(position: Position, stats: Record<string, CollectionStats>, through = 0, everything = false): void {
    if (this.following) {
      const feed = this.data.feed!;
      feed.position = position;
      feed.applied = this.feedBase + through;
      feed.sent = everything ? feed.applied : Math.max(feed.sent, feed.applied);
    } else this.data.position = position;
    this.stats = stats;
    this.saveInBackground();
  }

  /**
   * One background save at a time, at most every saveIntervalMs. A position recorded too soon after
   * the last save is saved when the interval ends, not only at the next advance: a run that stalls
   * after it (a transform awaiting something, a quiet source) still has its last safe position on
   * disk, so a crash then re-sends nothing before it.
   */
  private saveInBackground(): void {
    if (this.ended || this.trailing) return;
    const wait = this.lastSave + saveIntervalMs - Date.now();
    if (this.backgroundSave || wait > 0) {
      this.trailing = setTimeout(() => {
        this.trailing = undefined;
        this.saveInBackground();
      }, Math.max(wait, 10));
      this.trailing.unref();
      return;
    }
    this.lastSave = Date.now();
    this.backgroundSave = true;
    this.save(false)
      .catch((error: unknown) => (this.failure ??= error))
      .finally(() => (this.backgroundSave = false));
  }

  /** The run's last save (its teardown): no background save comes after it to undo what it says. */
  finish(complete: boolean, allStats?: Record<string, CollectionStats>): Promise<void> {
    this.ended = true;
    clearTimeout(this.trailing);
    this.trailing = undefined;
    return this.save(complete, allStats);
  }

  /**
   * Writes the checkpoint now (and waits for any save in progress), with the earlier runs' counts
   * and this run's up to the position. A run whose every document was answered (it ended, or
   * following stopped with nothing in flight) passes all its counts, whatever position was
   * recorded last. `complete`: nothing is left to resume (a follow is never complete).
   */
  save(complete: boolean, allStats?: Record<string, CollectionStats>): Promise<void> {
    // Read when the save begins, so one save covers every `sending` call made while another ran;
    // the position and the counts up to it are read together.
    const snapshot = (): CheckpointData => {
      const stats = mergeStats(this.earlier.stats, allStats ?? this.stats);
      // Every failed document was dead-lettered: the count of dead letters is the count of failures.
      const deadLetters = totalOf(stats).failed;
      const feed = this.data.feed && { ...this.data.feed };
      return { ...this.data, ...(feed ? { feed } : {}), stats, deadLetters, complete, updatedAt: new Date().toISOString() };
    };
    this.saving = this.saving.catch(() => undefined).then(async () => {
      if (this.failure) throw this.failure;
      // Taken before the dead letters are flushed: every failure it counts is then on disk.
      const data = snapshot();
      await this.beforeSave();
      await writePrivateAtomic(this.path, JSON.stringify(data, null, 2) + '\n');
      // What the file says now, lower too once everything sent was answered (see advance).
      if (data.feed) this.savedSent = data.feed.sent;
    });
    return this.saving;
  }
}
