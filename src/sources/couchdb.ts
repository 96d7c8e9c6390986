/**
 * Reads CouchDB databases as collections through `_all_docs?include_docs=true`, one page at a
 * time, paged by start key (never by a growing `skip`). The next page is requested while the
 * current one is being consumed, and no further: memory stays at two pages whatever the size.
 *
 * `_rev` and `_attachments` are CouchDB's own and are stripped (as the seed scripts did); how many
 * documents had attachments is reported per collection so nobody loses them unknowingly.
 *
 * A shard (`--shard k/N`) reads the `_all_docs` key ranges stores/common/key-cells.ts gives it:
 * chosen from the keys alone, so shards need no plan in common and agree whatever changes.
 */
import { CouchHttpError, fatalCouchError, isTransientCouchError, isTransientDatabaseCall, openCouch, type CouchClient } from '../stores/couchdb/client.js';
import { resolveEndpoint } from '../stores/couchdb/endpoint.js';
import { isDesignId, isSystemDatabase } from '../stores/couchdb/names.js';
import { collectionsToRead } from '../stores/common/collections.js';
import { ownedParts, type From, type KeyRange, type Part, type Until } from '../stores/common/key-cells.js';
import { withRetry } from '../stores/common/retry.js';
import type { AdapterOptions, Doc, JsonValue, ParsedUri, Shard, Source, SourceChunk, SourceReadOptions } from '../types.js';

const defaultPageSize = 1000;

interface Row {
  id: string;
  doc?: Doc | null;
}

export default function couchdbSource(uri: ParsedUri, options: AdapterOptions): Source {
  return createSource(openCouch(resolveEndpoint(uri, options.env)), options);
}

/** The source on any CouchClient (a fake in unit tests). */
export function createSource(couch: CouchClient, options: AdapterOptions): Source {
  const { endpoint } = couch;
  const pageSize = Math.max(1, options.batchSize ?? defaultPageSize);

  /**
   * A request under the run's retry policy: listing and counting ride out failures as reads and
   * writes do, but a `database` call (listing, counting) fails at once on a server that is not there.
   */
  async function get(what: string, request: Parameters<CouchClient['request']>[0], signal?: AbortSignal, database = false): Promise<JsonValue> {
    const transient = database ? isTransientDatabaseCall : isTransientCouchError;
    try {
      return await withRetry(() => couch.request({ ...request, signal }), (e) => !signal?.aborted && transient(e), {
        retries: options.retries,
        signal,
      });
    } catch (error) {
      signal?.throwIfAborted();
      throw fatalCouchError(error, endpoint, what);
    }
  }

  async function databases(): Promise<string[]> {
    const all = (await get('listing databases', { path: '_all_dbs' }, undefined, true)) as string[];
    return all.filter((name) => !isSystemDatabase(name)).sort();
  }

  /**
   * Rows of a range, at most pageSize (+ 1 when starting after a key, so that the row equal to the
   * previous page's last key, which the next page starts at, still leaves a full page). Inclusive
   * start keys stay correct when that document was deleted between pages (a `skip=1` would then
   * skip a live one).
   */
  async function page(db: string, from: From | undefined, until: Until | undefined, signal: AbortSignal, docs = true): Promise<Row[]> {
    const qs: Record<string, string | number | boolean> = { limit: from?.after ? pageSize + 1 : pageSize };
    if (docs) qs.include_docs = true;
    if (from) qs.startkey = from.key;
    if (until) qs.endkey = until.key;
    if (until && !until.through) qs.inclusive_end = false;
    const answer = await get(`reading database ${db}`, { db, path: '_all_docs', qs }, signal);
    const rows = ((answer as { rows?: Row[] } | null)?.rows ?? []) as Row[];
    return from?.after && rows[0]?.id === from.key ? rows.slice(1) : rows;
  }

  /** Rows of the documents with these ids, in their order (a document since deleted comes without one). */
  async function byKeys(db: string, keys: string[], signal: AbortSignal): Promise<Row[]> {
    const answer = await get(`reading database ${db}`, { method: 'POST', db, path: '_all_docs', qs: { include_docs: true }, body: JSON.stringify({ keys }) }, signal);
    return ((answer as { rows?: Row[] } | null)?.rows ?? []) as Row[];
  }

  /** A range's rows, a page at a time; the next page is asked for while this one is consumed, and no further. */
  async function* pages(db: string, { from, until }: KeyRange, signal: AbortSignal): AsyncGenerator<Row[]> {
    let next: Promise<Row[]> | undefined = page(db, from, until, signal);
    while (next) {
      const rows: Row[] = await next;
      const lastKey = rows.at(-1)?.id;
      // A short page is the last one.
      next = rows.length >= pageSize && lastKey !== undefined ? page(db, { key: lastKey, after: true }, until, signal) : undefined;
      next?.catch(() => {});
      yield rows;
    }
  }

  /** The documents of these parts (a shard's, or one range for the whole database), in key order. */
  async function* readDatabase(db: string, parts: AsyncIterable<Part> | Iterable<Part>, signal: AbortSignal): AsyncGenerator<SourceChunk> {
    let withAttachments = 0;
    /** A chunk of the rows' documents; its position is `lastKey`, the last key the rows cover. */
    const chunkOf = (rows: Row[], lastKey: string): SourceChunk | undefined => {
      const ids: string[] = [];
      const docs: Doc[] = [];
      for (const row of rows) {
        if (!row.doc || (isDesignId(row.id) && !options.includeDesign)) continue;
        // `_rev` and `_attachments` stay: the default transform strip-couch-meta removes them, and
        // --keep-couch-meta keeps them. Attachment bodies are never read, so say how many had one.
        if (row.doc._attachments !== undefined) withAttachments++;
        ids.push(row.id);
        docs.push(row.doc);
      }
      // Rows of design documents only still move the cursor, but yield nothing to write.
      if (docs.length === 0) return undefined;
      return { collection: db, docs, position: { collection: db, lastKey }, where: (index) => `${endpoint.label} ${db} _id ${ids[index]}` };
    };
    try {
      for await (const part of parts) {
        if ('keys' in part) {
          const chunk = chunkOf(await byKeys(db, part.keys, signal), part.keys.at(-1)!);
          if (chunk) yield chunk;
          continue;
        }
        for await (const rows of pages(db, part.range, signal)) {
          const chunk = rows.length > 0 ? chunkOf(rows, rows.at(-1)!.id) : undefined;
          if (chunk) yield chunk;
        }
      }
    } finally {
      if (withAttachments > 0) {
        options.warn(`couchdb ${db}: ${withAttachments} document${withAttachments === 1 ? '' : 's'} had attachments, whose contents are not copied`);
      }
    }
  }

  /**
   * What a read covers from `start` on: everything, or a shard's parts (stores/common/key-cells.ts),
   * found through `_all_docs` without documents, a page of keys at a time.
   */
  function parts(db: string, start: From | undefined, shard: Shard | undefined, signal: AbortSignal): AsyncIterable<Part> | Iterable<Part> {
    if (!shard || shard.count === 1) return [{ range: { from: start } }];
    return ownedParts(shard, async (from) => (await page(db, from, undefined, signal, false)).map((row) => row.id), start);
  }

  return {
    label: endpoint.label,
    provider: 'couchdb',
    shared: true,
    splits: '_all_docs key ranges',
    identity: async () => endpoint.identity,
    listCollections: databases,

    async count(collection) {
      try {
        const info = (await get(`reading database ${collection}`, { db: collection }, undefined, true)) as { doc_count?: number };
        return info.doc_count;
      } catch (error) {
        if ((error as Error).cause instanceof CouchHttpError && ((error as Error).cause as CouchHttpError).status === 404) return undefined;
        throw error;
      }
    },

    async *read({ shard, collections, resumeFrom, signal }: SourceReadOptions): AsyncIterable<SourceChunk> {
      const names = collectionsToRead(await databases(), {
        collections,
        resumeFrom,
        missing: (absent) => options.warn(`couchdb: no database ${absent.join(', ')} at ${endpoint.hostPort}; nothing read from ${absent.length === 1 ? 'it' : 'them'}`),
      });
      for (const { collection: db, resumeAt } of names) {
        signal.throwIfAborted();
        const after = resumeAt?.lastKey as string | undefined;
        yield { collection: db, docs: [], position: after === undefined ? { collection: db } : { collection: db, lastKey: after } };
        yield* readDatabase(db, parts(db, after === undefined ? undefined : { key: after, after: true }, shard, signal), signal);
      }
    },

    close: async () => {},
  };
}
