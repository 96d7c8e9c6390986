/**
 * The run's `onProgress`: called at most every 200 ms while documents move (so a fast run does not
 * spend its time reporting) and once at the end.
 */
import type { FollowProgress, Progress, Source } from '../types.js';
import type { RunStats } from './stats.js';

const progressIntervalMs = 200;

export class ProgressReporter {
  /** The collection being read. */
  current?: string;
  /** Once a follow's snapshot is copied: how following is doing. */
  following?: { progress(): FollowProgress };
  private readonly expected: Record<string, number> = {};
  private last = 0;

  constructor(
    private readonly onProgress: ((progress: Progress) => void) | undefined,
    private readonly source: Source,
    private readonly stats: RunStats,
    private readonly started: number,
    /** False for a shard: the store counts whole collections, of which a shard reads a part only. */
    private readonly counted = true,
  ) {}

  /**
   * A new collection starts: asks the source how many documents it holds, for an ETA. `label` is
   * the name its counts go under when that is not the collection's (verify reads both sides).
   */
  async enter(collection: string, label = collection): Promise<void> {
    this.current = label;
    if (!this.onProgress || !this.source.count || !this.counted) return;
    const count = await this.source.count(collection).catch(() => undefined);
    if (count !== undefined) this.expected[label] = count;
  }

  /** Reports, unless the last report is younger than the interval; `done` always reports. */
  report(done: boolean): void {
    if (!this.onProgress) return;
    const now = Date.now();
    if (!done && now - this.last < progressIntervalMs) return;
    this.last = now;
    const { current: collection, expected } = this;
    const following = this.following?.progress();
    this.onProgress({ collection, collections: this.stats.toJSON(), elapsedMs: now - this.started, source: this.source.progress?.(), expected, ...(following ? { following } : {}), done });
  }
}
