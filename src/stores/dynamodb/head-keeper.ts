/**
 * The head's place in each open shard, and keeping it usable through a long snapshot.
 *
 * The head reads its LATEST iterator once at once (readHead): the first record after the head
 * pins the place as a sequence number; no record gives the next iterator at the same place.
 *
 * An iterator expires 15 minutes after it was handed out, and a snapshot of a large table takes
 * longer; the fallback (the shard read from its start) loses nothing but applies hours of old
 * changes again. So, while this process scans, the HeadKeeper reads each held iterator the same
 * way every few minutes. A head resumed in another process has no keeper: the fallback applies.
 */
import { withRetry, type RetryPolicy } from '../common/retry.js';
import type { StreamsApi } from './client.js';
import { errorName, isTransientDynamoError } from './errors.js';

export type Held =
  /** No record after the head yet: an iterator at the head, fresh as of its last read. */
  | { iterator: string }
  /** The first record after the head. */
  | { at: string };

export type HeadRead =
  | Held
  /** The shard closed with nothing after the head. */
  | { ended: true }
  /** The iterator cannot be used (expired, or refused as DynamoDB Local does, see TableStream.mayRestart): the shard is read from its start. */
  | { unusable: true };

/** One GetRecords of one record on a head iterator; other failures are thrown as they came. */
export async function readHead(streams: Pick<StreamsApi, 'getRecords'>, iterator: string, policy: RetryPolicy): Promise<HeadRead> {
  try {
    const answer = await withRetry(() => streams.getRecords({ ShardIterator: iterator, Limit: 1 }, policy.signal), isTransientDynamoError, policy);
    const first = answer.Records?.[0]?.dynamodb?.SequenceNumber;
    if (first) return { at: first };
    return answer.NextShardIterator ? { iterator: answer.NextShardIterator } : { ended: true };
  } catch (error) {
    policy.signal?.throwIfAborted();
    const name = errorName(error);
    if (name === 'ExpiredIteratorException' || name === 'TrimmedDataAccessException') return { unusable: true };
    throw error;
  }
}

/** Well inside the 15 minutes an iterator lives. */
const defaultEveryMs = 4 * 60_000;

export class HeadKeeper {
  /** By the iterator the head's position names. */
  private readonly kept = new Map<string, Promise<Held>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly streams: () => Promise<Pick<StreamsApi, 'getRecords'>>,
    private readonly everyMs = defaultEveryMs,
  ) {}

  /** Keeps this head iterator fresh until the feed starts. */
  keep(iterator: string): void {
    this.kept.set(iterator, Promise.resolve({ iterator }));
    this.timer ??= setInterval(() => void this.refresh(), this.everyMs).unref();
  }

  /** One round: every kept iterator read for one record. Failures leave it as it was (the feed's fallback covers it). */
  async refresh(): Promise<void> {
    const rounds = [...this.kept.entries()].map(([key, held]) => {
      const next = held.then((current) => this.advance(current));
      this.kept.set(key, next);
      return next;
    });
    await Promise.all(rounds);
  }

  private async advance(held: Held): Promise<Held> {
    if ('at' in held) return held;
    try {
      const read = await readHead(await this.streams(), held.iterator, { retries: 0 });
      return 'at' in read || 'iterator' in read ? read : held;
    } catch {
      return held;
    }
  }

  /** Where the head marked with this iterator now stands; undefined when this process did not take it. */
  async resolve(iterator: string): Promise<Held | undefined> {
    return this.kept.get(iterator);
  }

  /** The feed has started (or the source closes): no more rounds. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
