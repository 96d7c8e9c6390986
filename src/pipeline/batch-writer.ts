/**
 * Groups documents into sink-sized batches and keeps at most `sink.concurrency` of them in flight.
 * `add` and `remove` hand back a promise only when the caller must wait for a free slot: that wait
 * is the backpressure that stops the source from reading ahead.
 *
 * It also knows how far the run is safe: each source chunk gets a ticket; a chunk's position is safe
 * once the chunk has been fully handed over (sealed) and every document from it (and from every
 * chunk before it) has an answer from the sink. Batches finish out of order, so the safe position
 * is a low-water mark, never just "the last batch that finished".
 *
 * Changes to one `_id` reach the target in the order they were handed over: a write or a removal
 * whose `_id` is still in flight in another batch waits for that batch, and one whose `_id` is
 * already in the batch being filled sends that batch first. Two versions of one document (a backup
 * with a later edit appended, a change feed's put then delete) then land in source order, whatever
 * the order in which concurrent batches finish. A batch holds writes or removals, never both.
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
  /** A change feed's chunk: the changes delivered up to and including it (see FollowState). */
  through?: number;
}

/** What a batch does to its documents: `sink.write` them, or `sink.remove` their `_id`s. */
type BatchKind = 'write' | 'remove';

interface Batch {
  collection: string;
  kind: BatchKind;
  /** The documents to write (a remove batch has none). */
  docs: Doc[];
  /** The `_id` of every entry, in order. */
  ids: string[];
  /** The same `_id`s, to find one that comes again (it goes in a later batch). */
  holds: Set<string>;
  /** Runs of consecutive entries from one ticket: [ticket, count]. */
  spans: [Ticket, number][];
}

/** How an `_id` in flight is known across collections. */
const inFlightKey = (collection: string, id: string) => `${collection}\0${id}`;

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
    /**
     * Called with each new safe position (in order), the counts of everything up to it, its
     * ticket's `through`, and whether every chunk handed over so far is answered (nothing is left in flight).
     */
    private readonly onSafe: (position: Position, stats: Record<string, CollectionStats>, through: number | undefined, everything: boolean) => void,
    /** Waited for before a batch is sent, with the highest `through` of its chunks (a follow's checkpoint records it). */
    private readonly beforeSend?: (through: number) => Promise<void>,
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

  /** Writes a document (its `_id` a string, checked). */
  add(collection: string, doc: Doc, ticket: Ticket): Promise<void> | undefined {
    return this.enqueue(collection, 'write', doc._id as string, doc, ticket);
  }

  /** Removes a document by `_id` (the sink must have `remove`: the pipeline checks before). */
  remove(collection: string, id: string, ticket: Ticket): Promise<void> | undefined {
    return this.enqueue(collection, 'remove', id, undefined, ticket);
  }

  private enqueue(collection: string, kind: BatchKind, id: string, doc: Doc | undefined, ticket: Ticket): Promise<void> | undefined {
    if (this.failure) throw this.failure;
    const again = () => this.enqueue(collection, kind, id, doc, ticket);
    const earlier = this.concurrent ? this.inFlightIds.get(inFlightKey(collection, id)) : undefined;
    if (earlier) return earlier.then(again);
    let batch = this.current;
    if (batch && (batch.collection !== collection || batch.kind !== kind || batch.holds.has(id))) {
      // Sent first; an `_id` it holds is then in flight, and waited for by the call again.
      const flushed = this.dispatch();
      return flushed ? flushed.then(again) : again();
    }
    batch ??= this.current = { collection, kind, docs: [], ids: [], holds: new Set(), spans: [] };
    if (doc) batch.docs.push(doc);
    batch.ids.push(id);
    batch.holds.add(id);
    ticket.open++;
    const last = batch.spans[batch.spans.length - 1];
    if (last && last[0] === ticket) last[1]++;
    else batch.spans.push([ticket, 1]);
    return batch.ids.length >= this.sink.batchSize ? this.dispatch() : undefined;
  }

  /**
   * Sends the partial batch now, without waiting for what is in flight (only for a free slot): a
   * follow's changes go out as they come instead of waiting for a batch to fill.
   */
  flush(): Promise<void> | undefined {
    return this.current ? this.dispatch() : undefined;
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
    const keys = this.concurrent ? batch.ids.map((id) => inFlightKey(batch.collection, id)) : [];
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
      const through = Math.max(0, ...batch.spans.map(([ticket]) => ticket.through ?? 0));
      if (this.beforeSend && through > 0) await this.beforeSend(through);
      const removing = batch.kind === 'remove';
      const outcomes = removing
        ? await this.sink.remove!(batch.collection, batch.ids, this.signal)
        : await this.sink.write(batch.collection, batch.docs, this.signal);
      if (outcomes.length !== batch.ids.length) {
        throw fatalError('sink-contract', `${this.sink.label} answered ${outcomes.length} results for ${batch.ids.length} ${removing ? 'removals' : 'documents'}`);
      }
      let i = 0;
      for (const [ticket, count] of batch.spans) {
        for (const end = i + count; i < end; i++) {
          const outcome = outcomes[i]!;
          this.tally(ticket, removing && outcome.status === 'written' ? 'deleted' : outcome.status);
          if (outcome.status !== 'failed') continue;
          const { collection } = batch;
          if (removing) this.deadLetters.add({ collection, _id: batch.ids[i], reason: `could not be deleted: ${outcome.reason}`, doc: undefined });
          else this.deadLetters.add({ collection, _id: batch.docs[i]!._id, reason: outcome.reason, doc: batch.docs[i] });
        }
        ticket.open -= count;
      }
      this.advance();
    } catch (error) {
      this.failure ??= isEtlError(error) ? error : fatalError('write-failed', `writing to ${this.sink.label} failed: ${messageOf(error)}`, error);
    }
  }

  private advance(): void {
    let safe: Ticket | undefined;
    while (this.tickets.length > 0 && this.tickets[0]!.sealed && this.tickets[0]!.open === 0) {
      const ticket = this.tickets.shift()!;
      addStats(this.safeStats.of(ticket.collection), ticket.counts);
      if (ticket.position) safe = ticket;
    }
    if (safe) this.onSafe(safe.position!, this.safeStats.toJSON(), safe.through, this.tickets.length === 0);
  }
}
