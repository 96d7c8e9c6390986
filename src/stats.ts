import type { CollectionStats } from './types.js';

/** Counts per collection, in the order collections were first seen. */
export class RunStats {
  readonly collections = new Map<string, CollectionStats>();

  of(collection: string): CollectionStats {
    let stats = this.collections.get(collection);
    if (!stats) this.collections.set(collection, (stats = { read: 0, written: 0, skipped: 0, dropped: 0, failed: 0 }));
    return stats;
  }

  total(): CollectionStats {
    const total = { read: 0, written: 0, skipped: 0, dropped: 0, failed: 0 };
    for (const s of this.collections.values()) {
      total.read += s.read;
      total.written += s.written;
      total.skipped += s.skipped;
      total.dropped += s.dropped;
      total.failed += s.failed;
    }
    return total;
  }

  toJSON(): Record<string, CollectionStats> {
    return Object.fromEntries([...this.collections].map(([name, s]) => [name, { ...s }]));
  }
}
