/**
 * Groups documents into sink-sized batches and keeps at most `sink.concurrency` of them in flight.
 * `add` hands back a promise only when the caller must wait for a free slot: that wait is the
 * backpressure that stops the source from reading ahead.
 *
 * It also knows how far the run is safe: each source chunk gets a ticket; a chunk's position is safe
 * once the chunk has been fully handed over (sealed) and every document from it (and from every
 * chunk before it) has an answer from the sink. Batches finish out of order, so the safe position
 * is a low-water mark, never just "the last batch that finished".
 *
 * A document whose `_id` is still in flight in another batch waits for that batch: two versions of
 * one document (a backup with a later edit appended) then reach the target in source order, so the
 * later one wins, whatever the order in which concurrent batches finish.
 */
import type { DeadLetters } from './dead-letter.js';
import { fatalError, isEtlError, messageOf } from '../errors.js';
import { addStats, emptyStats, RunStats } from './stats.js';
import type { CollectionStats, Doc, Position, Sink } from '../types.js';

export interface Ticket {
  collection: string;
  position?: Position;
  open: number;
  sealed: boolean;
  /** What happened to this chunk's documents so far: added to the safe counts with the ticket. */
  counts: CollectionStats;
}

interface Batch {
  collection: string;
  docs: Doc[];
  /** Runs of consecutive documents from one ticket: [ticket, count]. */
  spans: [Ticket, number][];
}

export class BatchWriter {
  private current?: Batch;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly tickets: Ticket[] = [];
  /** `collection\0_id` of every document in flight → its batch's write. */
  private readonly inFlightIds = new Map<string, Promise<void>>();
  /** Only batches in flight together can land out of order; one at a time needs no `_id` tracking. */
  private readonly concurrent: boolean;
  private failure?: unknown;
  /**
   * The counts of the documents up to the safe position: what a checkpoint may claim. The live
   * counts also hold documents after it, which a resumed run reads and counts again.
   */
  private readonly safeStats = new RunStats();

  constructor(
    private readonly sink: Sink,
    private readonly stats: RunStats,
    private readonly deadLetters: DeadLetters,
    private readonly signal: AbortSignal,
    /** Called with each new safe position (in order) and the counts of everything up to it. */
    private readonly onSafe: (position: Position, stats: Record<string, CollectionStats>) => void,
  ) {
    this.concurrent = sink.concurrency > 1;
  }

  /** A ticket for the next source chunk; documents added with it count against it. */
  ticket(collection: string, position: Position | undefined): Ticket {
    const ticket: Ticket = { collection, position, open: 0, sealed: false, counts: emptyStats() };
    this.tickets.push(ticket);
    return ticket;
  }

  /** Counts what happened to one of the ticket's documents, in the live counts and the ticket's own. */
  tally(ticket: Ticket, what: keyof CollectionStats): void {
    this.stats.of(ticket.collection)[what]++;
    ticket.counts[what]++;
  }

  /** The chunk behind the ticket has been fully handed over. */
  seal(ticket: Ticket): void {
    ticket.sealed = true;
    this.advance();
  }

  add(collection: string, doc: Doc, ticket: Ticket): Promise<void> | undefined {
    if (this.failure) throw this.failure;
    const earlier = this.concurrent ? this.inFlightIds.get(`${collection}\0${doc._id as string}`) : undefined;
    if (earlier) return earlier.then(() => this.add(collection, doc, ticket));
    let batch = this.current;
    if (!batch || batch.collection !== collection) {
      const flushed = batch ? this.dispatch() : undefined;
      if (flushed) return flushed.then(() => this.add(collection, doc, ticket));
      batch = this.current = { collection, docs: [], spans: [] };
    }
    batch.docs.push(doc);
    ticket.open++;
    const last = batch.spans[batch.spans.length - 1];
    if (last && last[0] === ticket) last[1]++;
    else batch.spans.push([ticket, 1]);
    return batch.docs.length >= this.sink.batchSize ? this.dispatch() : undefined;
  }

  /** Sends the partial batch and waits for everything in flight. */
  async drain(): Promise<void> {
    if (this.current) await this.dispatch();
    while (this.inFlight.size > 0) await Promise.race(this.inFlight);
    if (this.failure) throw this.failure;
  }

  /** Waits for what is in flight without sending the partial batch (a failed run). */
  async settle(): Promise<void> {
    this.current = undefined;
    await Promise.allSettled([...this.inFlight]);
  }

  private dispatch(): Promise<void> | undefined {
    const batch = this.current!;
    this.current = undefined;
    const keys = this.concurrent ? batch.docs.map((doc) => `${batch.collection}\0${doc._id as string}`) : [];
    const write = this.write(batch).finally(() => {
      this.inFlight.delete(write);
      for (const key of keys) if (this.inFlightIds.get(key) === write) this.inFlightIds.delete(key);
    });
    this.inFlight.add(write);
    for (const key of keys) this.inFlightIds.set(key, write);
    if (this.inFlight.size < this.sink.concurrency) return undefined;
    return Promise.race(this.inFlight).then(() => {
      if (this.failure) throw this.failure;
    });
  }

  private async write(batch: Batch): Promise<void> {
    try {
      const outcomes = await this.sink.write(batch.collection, batch.docs, this.signal);
      if (outcomes.length !== batch.docs.length) {
        throw fatalError('sink-contract', `${this.sink.label} answered ${outcomes.length} results for ${batch.docs.length} documents`);
      }
      let i = 0;
      for (const [ticket, count] of batch.spans) {
        for (const end = i + count; i < end; i++) {
          const outcome = outcomes[i]!;
          this.tally(ticket, outcome.status);
          if (outcome.status === 'failed') this.deadLetters.add({ collection: batch.collection, _id: batch.docs[i]!._id, reason: outcome.reason, doc: batch.docs[i] });
        }
        ticket.open -= count;
      }
      this.advance();
    } catch (error) {
      this.failure ??= isEtlError(error) ? error : fatalError('write-failed', `writing to ${this.sink.label} failed: ${messageOf(error)}`, error);
    }
  }

  private advance(): void {
    let safe: Position | undefined;
    let stats: Record<string, CollectionStats> | undefined;
    while (this.tickets.length > 0 && this.tickets[0]!.sealed && this.tickets[0]!.open === 0) {
      const ticket = this.tickets.shift()!;
      addStats(this.safeStats.of(ticket.collection), ticket.counts);
      if (ticket.position) {
        safe = ticket.position;
        stats = this.safeStats.toJSON();
      }
    }
    if (safe) this.onSafe(safe, stats!);
  }
}
