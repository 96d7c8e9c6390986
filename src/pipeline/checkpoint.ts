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
import type { CollectionStats, Position } from '../types.js';

export interface CheckpointData {
  version: 1;
  source: string;
  target: string;
  collections: string[] | null;
  position: Position | null;
  stats: Record<string, CollectionStats>;
  deadLetters: number;
  complete: boolean;
  updatedAt: string;
}

/**
 * How often a checkpoint is rewritten while positions advance. After a crash, everything written
 * since the last save is sent again: at thousands of documents a second, a one-second interval
 * re-sent thousands. A save is one small fsynced file, and saves never queue up (see advance), so
 * a slow disk only makes them rarer.
 */
const saveIntervalMs = 100;

export async function loadCheckpoint(path: string): Promise<CheckpointData | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw usageError('checkpoint-unreadable', `cannot read checkpoint ${path}: ${(error as Error).message}`);
  }
  try {
    const data = JSON.parse(text) as CheckpointData;
    if (data.version !== 1) throw new Error(`unknown version ${String(data.version)}`);
    return data;
  } catch (error) {
    throw usageError('checkpoint-unreadable', `checkpoint ${path} is not a gofannon-etl checkpoint: ${(error as Error).message}`);
  }
}

/** Refuses a checkpoint written for another source, target or choice of collections. */
export function assertSameRun(path: string, data: CheckpointData, run: Pick<CheckpointData, 'source' | 'target' | 'collections'>): void {
  const differs = (what: string, then: string, now: string) =>
    usageError('checkpoint-mismatch', redact(`checkpoint ${path} belongs to another run: its ${what} was ${then}, this run's is ${now}`));
  if (data.source !== run.source) throw differs('source', data.source, run.source);
  if (data.target !== run.target) throw differs('target', data.target, run.target);
  const list = (c: string[] | null) => (c ? c.join(',') : 'all collections');
  if (list(data.collections) !== list(run.collections)) throw differs('--collections', list(data.collections), list(run.collections));
}

export class Checkpointer {
  private data: CheckpointData;
  private lastSave = 0;
  private saving: Promise<void> = Promise.resolve();
  /** A background save is running: the next one waits for a later position instead of queueing. */
  private backgroundSave = false;
  /** A failed background save, reported by the next explicit save. */
  private failure?: unknown;

  constructor(
    readonly path: string,
    run: Pick<CheckpointData, 'source' | 'target' | 'collections'>,
    resumed: CheckpointData | undefined,
    /** Makes everything the checkpoint counts durable first (the dead-letter file). */
    private readonly beforeSave: () => Promise<void>,
  ) {
    this.data = resumed ?? { version: 1, ...run, position: null, stats: {}, deadLetters: 0, complete: false, updatedAt: '' };
  }

  get resumeFrom(): Position | undefined {
    return this.data.position ?? undefined;
  }

  /** Counts carried over from the runs before a resume. */
  get previous(): Pick<CheckpointData, 'stats' | 'deadLetters'> {
    return this.data;
  }

  /** Records a new safe position; writes it at most every saveIntervalMs, one save at a time. */
  advance(position: Position, stats: () => Record<string, CollectionStats>, deadLetters: () => number): void {
    this.data.position = position;
    if (this.backgroundSave || Date.now() - this.lastSave < saveIntervalMs) return;
    this.lastSave = Date.now();
    this.backgroundSave = true;
    this.save(stats(), deadLetters(), false)
      .catch((error: unknown) => (this.failure ??= error))
      .finally(() => (this.backgroundSave = false));
  }

  /** Writes the checkpoint now (and waits for any save in progress). */
  save(stats: Record<string, CollectionStats>, deadLetters: number, complete: boolean): Promise<void> {
    const snapshot: CheckpointData = { ...this.data, stats, deadLetters, complete, updatedAt: new Date().toISOString() };
    this.saving = this.saving.catch(() => undefined).then(async () => {
      if (this.failure) throw this.failure;
      await this.beforeSave();
      await writePrivateAtomic(this.path, JSON.stringify(snapshot, null, 2) + '\n');
    });
    return this.saving;
  }
}
