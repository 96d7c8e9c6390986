/**
 * A memory store's change log: what `--follow` reads from a memory source. Every change made
 * through the store's writer (the memory sink, `memoryWriter`) gets the next sequence number;
 * a document changed directly in the Map a `memoryStore` call returns is not logged.
 *
 * Entries are kept only once someone has taken the log's head (a follow run starting): a memory
 * store nobody follows stays as flat as before. They are kept for the life of the process.
 */
import { usageError } from '../../errors.js';
import type { Doc } from '../../types.js';

/** One change: a document put (`doc`) or removed (no `doc`). */
export interface MemoryChange {
  seq: number;
  collection: string;
  id: string;
  doc?: Doc;
}

export class ChangeLog {
  private readonly entries: MemoryChange[] = [];
  private seq = 0;
  /** The sequence number before the first entry kept; undefined while nobody follows. */
  private keptAfter?: number;
  private readonly waiters = new Set<() => void>();

  constructor(private readonly label: string) {}

  /** The sequence number of the latest change: what a follower starts after. Starts keeping entries. */
  head(): number {
    this.keptAfter ??= this.seq;
    return this.seq;
  }

  append(collection: string, id: string, doc?: Doc): void {
    this.seq++;
    if (this.keptAfter === undefined) return;
    this.entries.push({ seq: this.seq, collection, id, ...(doc ? { doc } : {}) });
    for (const wake of this.waiters) wake();
    this.waiters.clear();
  }

  /** The changes after `seq`, in order; refused when the log did not keep them. */
  after(seq: number): MemoryChange[] {
    if (this.keptAfter === undefined || seq < this.keptAfter) {
      throw usageError('cannot-follow', `${this.label} keeps its changes only from the first follow in this process (from change ${this.keptAfter ?? this.seq}), not from change ${seq}`);
    }
    return this.entries.slice(seq - this.keptAfter);
  }

  /** Resolves once there is a change after `seq`, or rejects when `signal` aborts. */
  async next(seq: number, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    if (this.seq > seq) return;
    // Only this process can change the store: a follower waiting for it keeps the process alive, as
    // a database follower's open connection does, until a change comes or it is stopped.
    const alive = setInterval(() => {}, 60_000);
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        clearInterval(alive);
        this.waiters.delete(wake);
        reject(signal.reason);
      };
      const wake = () => {
        clearInterval(alive);
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      this.waiters.add(wake);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
