/**
 * Keeps the head's LATEST iterators usable through a long snapshot. An iterator expires 15
 * minutes after it was handed out, and a snapshot of a large table takes longer; the fallback (the
 * shard read from its start) loses nothing but applies hours of old changes again. So, while this
 * process scans, each held iterator is read every few minutes for one record: the first record
 * after the head pins the place as a sequence number (which keeps 24 h); no record yet gives a
 * fresh iterator at the same place. A head resumed in another process has no keeper: the
 * fallback applies there.
 */
import type { StreamsApi } from './client.js';

type Held =
  /** No record after the head yet: an iterator at the head, fresh as of the last round. */
  | { iterator: string }
  /** The first record after the head. */
  | { at: string };

interface Kept {
  arn: string;
  shard: string;
  held: Promise<Held>;
}

/** Well inside the 15 minutes an iterator lives. */
const defaultEveryMs = 4 * 60_000;

export class HeadKeeper {
  private readonly kept = new Map<string, Kept>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly streams: () => Promise<Pick<StreamsApi, 'getRecords'>>,
    private readonly everyMs = defaultEveryMs,
  ) {}

  /** Keeps this head iterator (a LATEST one just taken) until the feed starts. */
  keep(arn: string, shard: string, iterator: string): void {
    this.kept.set(iterator, { arn, shard, held: Promise.resolve({ iterator }) });
    this.timer ??= setInterval(() => void this.refresh(), this.everyMs).unref();
  }

  /** One round: every kept iterator read for one record. Failures leave it as it was (the feed's fallback covers it). */
  async refresh(): Promise<void> {
    const rounds = [...this.kept.values()].map((kept) => (kept.held = kept.held.then((held) => this.advance(held))));
    await Promise.all(rounds);
  }

  private async advance(held: Held): Promise<Held> {
    if ('at' in held) return held;
    try {
      const answer = await (await this.streams()).getRecords({ ShardIterator: held.iterator, Limit: 1 });
      const first = answer.Records?.[0]?.dynamodb?.SequenceNumber;
      if (first) return { at: first };
      // No next iterator: the shard closed with nothing after the head; the one we hold is at its end.
      return answer.NextShardIterator ? { iterator: answer.NextShardIterator } : held;
    } catch {
      return held;
    }
  }

  /**
   * Where to start a shard the head marked with this LATEST iterator: an iterator, or the first
   * sequence number after the head (to read AT); undefined when this process did not take it.
   */
  async resolve(iterator: string): Promise<Held | undefined> {
    return this.kept.get(iterator)?.held;
  }

  /** The feed has started (or the source closes): no more rounds. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
