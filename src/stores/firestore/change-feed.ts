/**
 * Firestore's change feed (`--follow`), on one snapshot listener (`onSnapshot`) per collection.
 *
 * Firestore keeps no log of changes to resume from: a listener hears a collection's whole state
 * first, then each change, and a listener started again cannot ask for "changes since T". So:
 * - `head` starts the listeners and waits for their first snapshots. That state is the baseline,
 *   which the run's snapshot read takes (`takeBaseline`) rather than reading again; every change
 *   after it (those made during the snapshot too) waits, compacted to the latest change per id,
 *   until `changes` delivers it.
 * - `changes` from that head, in the same process, goes on with those listeners. From any other
 *   position (a resumed run) it listens again: the first snapshots are the whole collections (a
 *   full read), every document written after the position is put again, and the target's ids
 *   (`held`) that the source no longer has are deleted: the deletes made while no one listened.
 * A position is, per collection, the readTime up to which every change has been delivered.
 */
import { fatalError, messageOf, usageError } from '../../errors.js';
import { isoTimestamp } from '../../formats/timestamp.js';
import type { ChangeFeed, Position, SourceChunk } from '../../types.js';
import { redact } from '../../util/redact.js';
import type { FirestoreChange, FirestoreReader, FirestoreSnapshot, FirestoreTime } from './client.js';
import { documentWithId } from './decode.js';

type Time = FirestoreTime;

const EPOCH: Time = { seconds: 0, nanoseconds: 0 };

function compareTimes(a: Time, b: Time): number {
  return a.seconds - b.seconds || a.nanoseconds - b.nanoseconds;
}

function secondsBetween(from: Time, to: Time): number {
  return to.seconds - from.seconds + (to.nanoseconds - from.nanoseconds) / 1e9;
}

/** `2026-01-11T10:00:00.123456789Z` (how positions store a time) back to seconds and nanoseconds. */
function parseTime(text: string): Time | undefined {
  const match = /^(.+?)(?:\.(\d{1,9}))?Z$/.exec(text);
  const ms = match ? Date.parse(`${match[1]}Z`) : NaN;
  if (!match || Number.isNaN(ms)) return undefined;
  return { seconds: Math.floor(ms / 1000), nanoseconds: Number((match[2] ?? '').padEnd(9, '0')) };
}

/** A change waiting to be delivered, with the snapshot that brought it. */
interface Pending {
  change: FirestoreChange;
  /** The snapshot's readTime: when a delete is known to have happened. */
  seenAt: Time;
  generation: number;
}

/**
 * One collection's listener: the ids it sees now and the changes still to deliver, at most one per
 * id (the latest), in the order the snapshots brought them.
 */
class CollectionWatch {
  readonly present = new Set<string>();
  readonly pending = new Map<string, Pending>();
  /**
   * Pending changes per snapshot ("generation", in order), and the readTime delivered once none of
   * that generation or a later one is left: the position never claims what is still waiting.
   */
  private readonly generations = new Map<number, { count: number; after: Time }>();
  private generation = 0;
  /** readTime of the latest snapshot; undefined until the first. */
  latest: Time | undefined;
  error: unknown;
  /** A head's first snapshot: the documents the run's snapshot read can take instead of reading them again. */
  baseline: FirestoreChange[] | undefined;

  /** `from`: restarted from this position (its first snapshot's later writes are changes); undefined: a head's baseline. */
  constructor(
    readonly collection: string,
    private readonly from: Time | undefined,
  ) {
    // A restart's first generation stays open until the target's ids are compared (closeBaseline).
    if (from) this.generations.set(0, { count: 1, after: from });
  }

  apply(snapshot: FirestoreSnapshot): void {
    const first = this.latest === undefined;
    const generation = first ? 0 : ++this.generation;
    const after = first ? (this.from ?? snapshot.readTime) : this.latest!;
    if (first && !this.from) this.baseline = snapshot.changes;
    for (const change of snapshot.changes) {
      if (change.kind === 'delete') this.present.delete(change.id);
      else this.present.add(change.id);
      // A first snapshot's documents are the baseline, unless written after the restart's position.
      if (first && (!this.from || compareTimes(change.updateTime ?? EPOCH, this.from) <= 0)) continue;
      this.enqueue({ change, seenAt: snapshot.readTime, generation }, after);
    }
    this.latest = snapshot.readTime;
  }

  /** After a restart: an id the target holds that the source no longer has was deleted meanwhile. */
  goneFromSource(id: string): void {
    if (this.present.has(id) || this.pending.has(id)) return;
    this.enqueue({ change: { kind: 'delete', id }, seenAt: this.latest!, generation: 0 }, this.from!);
  }

  closeBaseline(): void {
    if (this.from) this.release(0);
  }

  private enqueue(entry: Pending, after: Time): void {
    this.take(entry.change.id);
    this.pending.set(entry.change.id, entry);
    const generation = this.generations.get(entry.generation);
    if (generation) generation.count++;
    else this.generations.set(entry.generation, { count: 1, after });
  }

  /** Removes the id's pending change (delivered or superseded). */
  take(id: string): Pending | undefined {
    const entry = this.pending.get(id);
    if (!entry) return undefined;
    this.pending.delete(id);
    this.release(entry.generation);
    return entry;
  }

  private release(generation: number): void {
    const counted = this.generations.get(generation)!;
    if (--counted.count === 0) this.generations.delete(generation);
  }

  /** Every change up to this readTime is delivered. */
  delivered(): Time {
    // Generations are created in order, so the map's first is the oldest still waiting.
    for (const { after } of this.generations.values()) return after;
    return this.latest ?? this.from ?? EPOCH;
  }
}

/** Listeners on a set of collections, and a way to wait until one of them hears something. */
class Listening {
  readonly watches: CollectionWatch[];
  private readonly unsubscribes: (() => void)[] = [];
  private waiter: (() => void) | undefined;
  private next = 0;

  constructor(
    client: FirestoreReader,
    collections: readonly string[],
    from: ReadonlyMap<string, Time> | undefined,
  ) {
    this.watches = [...collections].sort().map((c) => new CollectionWatch(c, from ? (from.get(c) ?? EPOCH) : undefined));
    for (const watch of this.watches) {
      const unsubscribe = client.listen(
        watch.collection,
        (snapshot) => {
          watch.apply(snapshot);
          this.notify();
        },
        (error) => {
          watch.error = fatalError('firestore-read-failed', `cannot follow ${client.label} collection ${watch.collection}: ${redact(messageOf(error))}`, error);
          this.notify();
        },
      );
      this.unsubscribes.push(unsubscribe);
    }
  }

  /** Resolves once every listener has its first snapshot; throws a listener's error or the abort. */
  async ready(signal: AbortSignal): Promise<void> {
    for (;;) {
      this.check(signal);
      if (this.watches.every((w) => w.latest)) return;
      await this.changed(signal);
    }
  }

  check(signal: AbortSignal): void {
    signal.throwIfAborted();
    const failed = this.watches.find((w) => w.error);
    if (failed) throw failed.error;
  }

  /** The next collection with changes waiting, taking turns. */
  waiting(): CollectionWatch | undefined {
    for (let i = 0; i < this.watches.length; i++) {
      const watch = this.watches[(this.next + i) % this.watches.length]!;
      if (watch.pending.size > 0) {
        this.next = (this.next + i + 1) % this.watches.length;
        return watch;
      }
    }
    return undefined;
  }

  pendingCount(): number {
    return this.watches.reduce((n, w) => n + w.pending.size, 0);
  }

  /** The latest readTime any listener heard: the source's head as far as the feed knows. */
  head(): Time {
    return this.watches.reduce((max, w) => (w.latest && compareTimes(w.latest, max) > 0 ? w.latest : max), EPOCH);
  }

  position(): Position {
    const at = ({ seconds, nanoseconds }: Time) => isoTimestamp(seconds, nanoseconds);
    return { listen: Object.fromEntries(this.watches.map((w) => [w.collection, at(w.delivered())])) };
  }

  changed(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        signal.removeEventListener('abort', wake);
        this.waiter = undefined;
        resolve();
      };
      signal.addEventListener('abort', wake, { once: true });
      this.waiter = wake;
    });
  }

  private notify(): void {
    this.waiter?.();
  }

  close(): void {
    for (const unsubscribe of this.unsubscribes.splice(0)) unsubscribe();
    this.notify();
  }
}

/** The per-collection times of a position this feed wrote; undefined for anything else. */
function positionTimes(position: Position): Map<string, Time> | undefined {
  const listen = position.listen;
  if (!listen || typeof listen !== 'object' || Array.isArray(listen)) return undefined;
  const times = new Map<string, Time>();
  for (const [collection, text] of Object.entries(listen)) {
    const time = typeof text === 'string' ? parseTime(text) : undefined;
    if (!time) return undefined;
    times.set(collection, time);
  }
  return times;
}

const samePosition = (a: Position, b: Position): boolean => JSON.stringify(a) === JSON.stringify(b);

export interface FirestoreChangeFeed extends ChangeFeed {
  /**
   * The documents of the collection as the head's listener first heard them, once (then
   * forgotten): the run's snapshot read takes them instead of reading the collection again, so a
   * follow reads each document once, and its snapshot is exactly the state its changes start from.
   * Undefined when no head listens to the collection.
   */
  takeBaseline(collection: string): FirestoreChange[] | undefined;
  /** Stops the listeners a `head` started and no `changes` took over. */
  close(): void;
}

export function createChangeFeed(client: FirestoreReader, batchSize: number): FirestoreChangeFeed {
  /** The listeners `head` started, for the `changes` that continues from that head. */
  let started: { listening: Listening; position: Position; collections: string } | undefined;
  const stopStarted = () => {
    started?.listening.close();
    started = undefined;
  };
  const key = (collections: Iterable<string>) => JSON.stringify([...collections].sort());

  /** A restart: listen again, then compare with what the target holds to find the deletes missed. */
  async function restart(collections: ReadonlySet<string>, from: Position, signal: AbortSignal, held: ((collection: string) => AsyncIterable<string[]>) | undefined) {
    if (!held) {
      throw usageError(
        'cannot-resume',
        `cannot go on following ${client.label} from an earlier position: Firestore keeps no log of deletes, so the target's document ids are compared with the source's, and this target cannot list them; start again without --resume`,
      );
    }
    const times = positionTimes(from);
    if (!times) throw usageError('bad-resume', `the saved change position is not one a Firestore feed wrote: ${JSON.stringify(from)}`);
    const listening = new Listening(client, [...collections], times);
    try {
      await listening.ready(signal);
      for (const watch of listening.watches) {
        for await (const ids of held(watch.collection)) {
          listening.check(signal);
          for (const id of ids) watch.goneFromSource(id);
        }
        watch.closeBaseline();
      }
    } catch (error) {
      listening.close();
      throw error;
    }
    return listening;
  }

  async function* deliver(listening: Listening, signal: AbortSignal): AsyncIterable<SourceChunk> {
    // Said once when there is nothing to deliver, and again on each chunk that empties the queue.
    let caughtUpSaid = false;
    for (;;) {
      listening.check(signal);
      const watch = listening.waiting();
      if (watch) {
        const chunk = takeChunk(watch, listening, batchSize);
        caughtUpSaid = chunk.caughtUp === true;
        yield chunk;
        continue;
      }
      if (!caughtUpSaid && listening.watches.length > 0) {
        caughtUpSaid = true;
        yield { collection: listening.watches[0]!.collection, docs: [], position: listening.position(), lag: { changes: 0, seconds: 0 }, caughtUp: true };
        continue;
      }
      await listening.changed(signal);
    }
  }

  return {
    async head(collections, signal) {
      stopStarted();
      const listening = new Listening(client, collections, undefined);
      // A run stopped before its changes are asked for stops these listeners.
      signal.addEventListener('abort', () => listening.close(), { once: true });
      try {
        await listening.ready(signal);
      } catch (error) {
        listening.close();
        throw error;
      }
      const position = listening.position();
      started = { listening, position, collections: key(collections) };
      return position;
    },
    async *changes({ collections, from, signal, held }) {
      const continuing = started && started.collections === key(collections) && samePosition(started.position, from) ? started.listening : undefined;
      if (!continuing) stopStarted();
      started = undefined;
      const listening = continuing ?? (await restart(collections, from, signal, held));
      // The snapshot is over: a baseline no read took is not kept alive.
      for (const watch of listening.watches) watch.baseline = undefined;
      try {
        yield* deliver(listening, signal);
      } finally {
        listening.close();
      }
    },
    takeBaseline(collection) {
      const watch = started?.listening.watches.find((w) => w.collection === collection);
      const baseline = watch?.baseline;
      if (watch) watch.baseline = undefined;
      return baseline;
    },
    close: stopStarted,
  };
}

/** Up to `batchSize` waiting changes of one kind from the front of the collection's queue. */
function takeChunk(watch: CollectionWatch, listening: Listening, batchSize: number): SourceChunk {
  const kind = watch.pending.values().next().value!.change.kind;
  const taken: Pending[] = [];
  for (const entry of watch.pending.values()) {
    if (entry.change.kind !== kind || taken.length >= batchSize) break;
    taken.push(entry);
  }
  for (const entry of taken) watch.take(entry.change.id);
  // How long ago, by the source's clock, the oldest change of the chunk was made.
  const oldest = taken.reduce((min, e) => {
    const made = e.change.updateTime ?? e.seenAt;
    return compareTimes(made, min) < 0 ? made : min;
  }, listening.head());
  const waiting = listening.pendingCount();
  const chunk: SourceChunk = {
    collection: watch.collection,
    docs: [],
    position: listening.position(),
    lag: { changes: waiting, seconds: Math.max(0, secondsBetween(oldest, listening.head())) },
    caughtUp: waiting === 0,
  };
  if (kind === 'delete') return { ...chunk, deletes: taken.map((e) => e.change.id) };
  const docs = taken.map(({ change }) => documentWithId(change.id, change.data!()));
  return { ...chunk, docs, where: (index) => `firestore ${watch.collection}/${String(docs[index]?._id)}` };
}
