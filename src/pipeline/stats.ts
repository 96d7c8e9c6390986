import type { CollectionStats } from '../types.js';

export const emptyStats = (): CollectionStats => ({ read: 0, written: 0, skipped: 0, dropped: 0, failed: 0, deleted: 0 });

/**
 * Adds the counts of `more` into `into`. A count a report or checkpoint written before it existed
 * lacks (`deleted`) adds as 0, so old and new reports merge.
 */
export function addStats(into: CollectionStats, more: CollectionStats): CollectionStats {
  into.read += more.read;
  into.written += more.written;
  into.skipped += more.skipped;
  into.dropped += more.dropped;
  into.failed += more.failed;
  into.deleted = (into.deleted ?? 0) + (more.deleted ?? 0);
  return into;
}

/** Adds the counts of `more` into a copy of `into`, collection by collection. */
export function mergeStats(into: Record<string, CollectionStats>, more: Record<string, CollectionStats>): Record<string, CollectionStats> {
  const out: Record<string, CollectionStats> = structuredClone(into);
  for (const [name, s] of Object.entries(more)) addStats((out[name] ??= emptyStats()), s);
  return out;
}

/** The counts of every collection added up. */
export function totalOf(collections: Record<string, CollectionStats>): CollectionStats {
  const total = emptyStats();
  for (const s of Object.values(collections)) addStats(total, s);
  return total;
}

/** Counts per collection, in the order collections were first seen. */
export class RunStats {
  readonly collections = new Map<string, CollectionStats>();

  of(collection: string): CollectionStats {
    let stats = this.collections.get(collection);
    if (!stats) this.collections.set(collection, (stats = emptyStats()));
    return stats;
  }

  total(): CollectionStats {
    return totalOf(this.toJSON());
  }

  toJSON(): Record<string, CollectionStats> {
    return Object.fromEntries([...this.collections].map(([name, s]) => [name, { ...s }]));
  }
}
