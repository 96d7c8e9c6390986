/**
 * CouchDB's change feed for `--follow`: one `_changes` feed per database (a collection is a
 * database), merged into one stream of chunks.
 *
 * The position is `{ since: { <db>: <seq> } }`. Since CouchDB 2 a seq is an opaque string (a number
 * on CouchDB 1 and pouchdb-server) that is only ever handed back to the server, never compared. Each
 * database is read with a plain request until it has caught up, then with a long poll, which answers
 * as soon as anything changes; a poll we end ourselves (pouchdb-server ignores `timeout`) just asks
 * again. Each database keeps at most one answer waiting to be consumed, so memory stays flat.
 */
import { fatalError, usageError } from '../../errors.js';
import { linkAbort } from '../../util/abort.js';
import type { ChangeFeed, Doc, JsonValue, Lag, Position, SourceChunk } from '../../types.js';
import { isNotFound, requestOrFail, type CouchClient } from './client.js';
import { isDesignId } from './names.js';

export interface ChangeFeedOptions {
  /** Changes per request. */
  limit: number;
  retries: number;
  includeDesign?: boolean;
  warn: (message: string) => void;
  /** How long one long poll may wait for a change before it is asked again (ms). */
  pollMs?: number;
  /** How often a database that does not exist yet is looked for again (ms). */
  absentPollMs?: number;
}

// CouchDB's default long-poll timeout is 60 s; a shorter one keeps a dead connection from going unseen as long.
const defaultPollMs = 25_000;
// When CouchDB ignores `timeout` (pouchdb-server does), we end the poll ourselves this much later (at most).
const pollGraceMs = 5_000;
const defaultAbsentPollMs = 5_000;

/** One row of a `_changes` answer. */
interface ChangeRow {
  id: string;
  seq: JsonValue;
  deleted?: boolean;
  doc?: Doc | null;
}

interface ChangesAnswer {
  results?: ChangeRow[];
  last_seq?: JsonValue;
  /** Changes after this answer (CouchDB 2+; pouchdb-server leaves it out). */
  pending?: number;
}

/** A chunk of one database's answer, with what it moves that database's position to. */
interface Entry {
  db: string;
  chunk: SourceChunk;
  seq: JsonValue;
  /** Feed rows this chunk stands for (with the design documents it skipped). */
  rows: number;
  /** On an answer's last chunk: tells its follower the answer was consumed, so it may ask for the next. */
  taken?: () => void;
}

/** How far one database's follower is: what it has queued and what the server said is still pending. */
interface Follower {
  /** The latest answer's count of changes after it; undefined before the first answer or when the server did not say. */
  pending?: number;
  /** Rows queued but not yet handed on. */
  queued: number;
  withAttachments: number;
}

/** The database seqs of a position written by `head` (or a chunk). */
function seqsOf(position: Position): Record<string, JsonValue> {
  const since = position.since;
  if (!since || typeof since !== 'object' || Array.isArray(since)) {
    throw usageError('bad-resume', 'the saved change-feed position is not a CouchDB one (no "since"): was it written by another source?');
  }
  return since as Record<string, JsonValue>;
}

export function couchChangeFeed(couch: CouchClient, options: ChangeFeedOptions): ChangeFeed {
  const { endpoint } = couch;
  const pollMs = options.pollMs ?? defaultPollMs;
  const absentPollMs = options.absentPollMs ?? defaultAbsentPollMs;

  /**
   * One `_changes` request; null when a long poll saw nothing change in its time. A database that
   * does not exist answers undefined.
   */
  async function request(db: string, since: JsonValue, longpoll: boolean, signal: AbortSignal): Promise<ChangesAnswer | null | undefined> {
    const qs: Record<string, string | number | boolean> = { since: String(since), include_docs: true, limit: options.limit };
    if (longpoll) Object.assign(qs, { feed: 'longpoll', timeout: pollMs });
    const poll = longpoll ? linkAbort([signal], pollMs + Math.min(pollMs, pollGraceMs)) : undefined;
    try {
      const answer = await requestOrFail(couch, `reading the changes of database ${db}`, { db, path: '_changes', qs, signal: poll?.signal ?? signal }, { retries: options.retries });
      return (answer ?? {}) as ChangesAnswer;
    } catch (error) {
      if (poll?.timedOut && !signal.aborted) return null;
      if (isNotFound(error)) return undefined;
      throw error;
    } finally {
      poll?.release();
    }
  }

  /**
   * One answer as at most two chunks: its documents, then its deletions. CouchDB lists a document
   * once per answer (at its latest change), so an answer's puts and deletes touch different `_id`s
   * and need not keep their interleaving; a chunk per run of either would split a busy answer into
   * handfuls and the batches written with it. Should an `_id` come twice (a clustered CouchDB may
   * repeat rows after shards move), its last row is its latest state and the only one kept. The
   * documents' chunk keeps the position the answer started from (the deletions after it are not
   * applied yet); the last chunk moves it to the answer's last seq. Design documents left out move
   * it too, alone in a chunk with no documents if need be.
   */
  function chunksOf(db: string, since: JsonValue, rows: ChangeRow[], follower: Follower): Entry[] {
    if (rows.length === 0) return [];
    const latest = new Map<string, ChangeRow>();
    for (const row of rows) {
      if (isDesignId(row.id) && !options.includeDesign) continue;
      latest.delete(row.id);
      latest.set(row.id, row);
    }
    const puts: SourceChunk = { collection: db, docs: [] };
    const deletes: string[] = [];
    const ids: unknown[] = [];
    for (const row of latest.values()) {
      if (row.deleted === true) deletes.push(row.id);
      else if (row.doc) {
        // `_rev` and `_attachments` stay, as the snapshot reads them (strip-couch-meta removes them).
        if (row.doc._attachments !== undefined) follower.withAttachments++;
        puts.docs.push(row.doc);
        ids.push(row.id);
      } else {
        puts.refused = [...(puts.refused ?? []), { doc: { _id: row.id }, reason: 'CouchDB listed a change without its document', where: `${endpoint.label} ${db} _changes` }];
      }
    }
    puts.where = (index) => `${endpoint.label} ${db} _changes _id ${String(ids[index])}`;
    const entries: Entry[] = [];
    if (puts.docs.length > 0 || puts.refused) entries.push({ db, seq: since, rows: puts.docs.length + (puts.refused?.length ?? 0), chunk: puts });
    if (deletes.length > 0 || entries.length === 0) entries.push({ db, seq: since, rows: 0, chunk: deletes.length > 0 ? { collection: db, docs: [], deletes } : { collection: db, docs: [] } });
    const last = entries.at(-1)!;
    last.seq = rows.at(-1)!.seq;
    last.rows = rows.length - (entries.length > 1 ? entries[0]!.rows : 0);
    return entries;
  }

  return {
    async head(collections, signal) {
      const since: Record<string, JsonValue> = {};
      for (const db of collections) {
        try {
          const info = (await requestOrFail(couch, `reading database ${db}`, { db, signal }, { retries: options.retries, database: true })) as { update_seq?: JsonValue } | null;
          since[db] = info?.update_seq ?? 0;
        } catch (error) {
          // Not there yet: followed from its beginning once it appears.
          if (!isNotFound(error)) throw error;
          since[db] = 0;
        }
      }
      return { since };
    },

    async *changes({ collections, from, signal }) {
      const seqs = { ...seqsOf(from) };
      const dbs = [...collections].sort();
      const followers = new Map<string, Follower>(dbs.map((db) => [db, { queued: 0, withAttachments: 0 }]));
      // Ends the followers: when the caller stops, when one fails, when the consumer leaves.
      const stop = new AbortController();
      const link = linkAbort([signal, stop.signal]);
      const stopping = link.signal;
      const queue: Entry[] = [];
      // Resolved when the queue grows or a follower fails.
      let wake: () => void = () => {};
      let failure: { error: unknown } | undefined;
      const onAbort = () => wake();
      signal.addEventListener('abort', onAbort);

      /** Queues one answer's chunks; resolves once the last is consumed (or the feed ends). */
      const enqueue = (entries: Entry[]) =>
        new Promise<void>((resolve) => {
          entries.at(-1)!.taken = resolve;
          queue.push(...entries);
          wake();
        });

      async function follow(db: string): Promise<void> {
        const follower = followers.get(db)!;
        let since: JsonValue = seqs[db] ?? 0;
        let caughtUp = false;
        let answered = false;
        // Whether the database has been there: one that goes away after cannot be followed further.
        let existed = since !== 0;
        while (!stopping.aborted) {
          const answer = await request(db, since, caughtUp, stopping);
          if (answer === null) continue;
          if (answer === undefined) {
            if (existed) throw fatalError('couchdb-failed', `CouchDB at ${endpoint.hostPort}: database ${db} was deleted while being followed, so the deletions of its documents cannot be followed`);
            // Not created yet: nothing to wait for, so caught up; looked for again in a while.
            follower.pending = 0;
            if (!answered) await enqueue([{ db, seq: since, rows: 0, chunk: { collection: db, docs: [] } }]);
            answered = true;
            await waitOrStop(absentPollMs, stopping);
            continue;
          }
          existed = true;
          const rows = answer.results ?? [];
          // A long poll answers with the first change only (pouchdb-server): only a plain request says it caught up.
          const pending: number | undefined = typeof answer.pending === 'number' ? answer.pending : !caughtUp && rows.length < options.limit ? 0 : undefined;
          const entries = chunksOf(db, since, rows, follower);
          if (entries.length === 0 && (!answered || pending !== 0 || !caughtUp)) entries.push({ db, seq: since, rows: 0, chunk: { collection: db, docs: [] } });
          answered = true;
          caughtUp = pending === 0;
          if (rows.length > 0) since = rows.at(-1)!.seq;
          if (entries.length === 0) continue;
          follower.queued += rows.length;
          follower.pending = pending;
          await enqueue(entries);
        }
      }

      const running = dbs.map((db) =>
        follow(db).catch((error: unknown) => {
          if (stopping.aborted) return;
          failure ??= { error };
          wake();
        }),
      );

      /** Changes still to come across all databases, when every one has said; undefined when one cannot. */
      const lag = (): Lag | undefined => {
        let changes = 0;
        for (const follower of followers.values()) {
          if (follower.pending === undefined) return undefined;
          changes += follower.pending + follower.queued;
        }
        return { changes };
      };

      try {
        while (true) {
          while (queue.length === 0 && !failure && !signal.aborted) await new Promise<void>((resolve) => (wake = resolve));
          if (failure) throw failure.error;
          if (signal.aborted) return;
          const entry = queue.shift()!;
          const follower = followers.get(entry.db)!;
          follower.queued -= entry.rows;
          seqs[entry.db] = entry.seq;
          entry.taken?.();
          const behind = lag();
          const chunk: SourceChunk = { ...entry.chunk, position: { since: { ...seqs } } };
          if (behind) chunk.lag = behind;
          if (behind?.changes === 0 && queue.length === 0) chunk.caughtUp = true;
          yield chunk;
        }
      } finally {
        signal.removeEventListener('abort', onAbort);
        stop.abort();
        for (const entry of queue) entry.taken?.();
        await Promise.all(running);
        link.release();
        for (const [db, { withAttachments }] of followers) {
          if (withAttachments > 0) options.warn(`couchdb ${db}: ${withAttachments} changed document${withAttachments === 1 ? '' : 's'} had attachments, whose contents are not copied`);
        }
      }
    },
  };
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function waitOrStop(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
