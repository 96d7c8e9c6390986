/**
 * Reads CouchDB databases as collections through `_all_docs?include_docs=true`, one page at a
 * time, paged by start key (never by a growing `skip`). The next page is requested while the
 * current one is being consumed, and no further: memory stays at two pages whatever the size.
 *
 * `_rev` and `_attachments` are CouchDB's own and are stripped (as the seed scripts did); how many
 * documents had attachments is reported per collection so nobody loses them unknowingly. Its change
 * feed (`--follow`) is stores/couchdb/change-feed.ts.
 *
 * A shard (`--shard k/N`) lists the keys with `_all_docs` without documents and reads the documents
 * whose key hashes to it by key (stores/common/key-shares.ts): no plan in common, even shares.
 */
import { isNotFound, openCouch, requestOrFail, type CouchClient, type CouchRequest } from '../stores/couchdb/client.js';
import { couchChangeFeed } from '../stores/couchdb/change-feed.js';
import { resolveEndpoint } from '../stores/couchdb/endpoint.js';
import { isDesignId, isSystemDatabase } from '../stores/couchdb/names.js';
import { collectionsToRead } from '../stores/common/collections.js';
import { ownedPages } from '../stores/common/key-shares.js';
import type { AdapterOptions, Doc, JsonValue, ParsedUri, Shard, Source, SourceChunk, SourceReadOptions } from '../types.js';

const defaultPageSize = 1000;

interface Row {
  id: string;
  doc?: Doc | null;
}

/** Rows read together, and the last key they cover (where a resumed read goes on from). */
interface RowPage {
  rows: Row[];
  lastKey: string;
}

export default function couchdbSource(uri: ParsedUri, options: AdapterOptions): Source {
  return createSource(openCouch(resolveEndpoint(uri, options.env)), options);
}

/** The source on any CouchClient (a fake in unit tests). */
export function createSource(couch: CouchClient, options: AdapterOptions): Source {
  const { endpoint } = couch;
  const pageSize = Math.max(1, options.batchSize ?? defaultPageSize);

  /** A request under the run's retry policy; see requestOrFail. */
  const get = (what: string, request: CouchRequest, signal?: AbortSignal, database = false): Promise<JsonValue> =>
    requestOrFail(couch, what, { ...request, signal }, { retries: options.retries, database });

  async function databases(): Promise<string[]> {
    const all = (await get('listing databases', { path: '_all_dbs' }, undefined, true)) as string[];
    return all.filter((name) => !isSystemDatabase(name)).sort();
  }

  /**
   * Rows from `startKey` on (inclusive), at most pageSize + 1 so that the row equal to the previous
   * page's last key, which the next page starts at, still leaves a full page. Inclusive start keys
   * stay correct when that document was deleted between pages (a `skip=1` would then skip a live one).
   * Without `docs`, only the keys (and revisions): a cheap list.
   */
  async function page(db: string, startKey: string | undefined, signal: AbortSignal, docs = true): Promise<Row[]> {
    const qs: Record<string, string | number | boolean> = { include_docs: docs, limit: startKey === undefined ? pageSize : pageSize + 1 };
    if (startKey !== undefined) qs.startkey = startKey;
    const answer = await get(`reading database ${db}`, { db, path: '_all_docs', qs }, signal);
    const rows = ((answer as { rows?: Row[] } | null)?.rows ?? []) as Row[];
    return startKey !== undefined && rows[0]?.id === startKey ? rows.slice(1) : rows;
  }

  /** Rows of the documents with these ids, in their order (a document since deleted comes without one). */
  async function byKeys(db: string, keys: string[], signal: AbortSignal): Promise<Row[]> {
    if (keys.length === 0) return [];
    const answer = await get(`reading database ${db}`, { method: 'POST', db, path: '_all_docs', qs: { include_docs: true }, body: JSON.stringify({ keys }) }, signal);
    return ((answer as { rows?: Row[] } | null)?.rows ?? []) as Row[];
  }

  /** Pages of rows after `after`, each with the last key it covers: every document, page by page. */
  async function* wholeDatabase(db: string, after: string | undefined, signal: AbortSignal): AsyncGenerator<RowPage> {
    let next: Promise<Row[]> | undefined = page(db, after, signal);
    while (next) {
      const rows: Row[] = await next;
      const lastKey = rows.at(-1)?.id;
      if (lastKey === undefined) return;
      // Ask for the next page now, so the server works while the pipeline consumes this one. A
      // short page is the last one.
      next = rows.length >= pageSize ? page(db, lastKey, signal) : undefined;
      next?.catch(() => {});
      yield { rows, lastKey };
    }
  }

  /**
   * A shard's pages (stores/common/key-shares.ts): `_all_docs` without documents lists every key
   * a page at a time, and this shard's documents of each page are read by key.
   */
  async function* shardOfDatabase(db: string, after: string | undefined, shard: Shard, signal: AbortSignal): AsyncGenerator<RowPage> {
    const keysAfter = async (key: string | undefined) => (await page(db, key, signal, false)).map((row) => row.id);
    for await (const { keys, lastKey } of ownedPages(shard, keysAfter, after)) yield { rows: await byKeys(db, keys, signal), lastKey };
  }

  async function* readDatabase(db: string, pages: AsyncIterable<RowPage>): AsyncGenerator<SourceChunk> {
    let withAttachments = 0;
    try {
      for await (const { rows, lastKey } of pages) {
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
        // A page of design documents only still moves the cursor, but yields nothing to write.
        if (docs.length === 0) continue;
        yield { collection: db, docs, position: { collection: db, lastKey }, where: (index) => `${endpoint.label} ${db} _id ${ids[index]}` };
      }
    } finally {
      if (withAttachments > 0) {
        options.warn(`couchdb ${db}: ${withAttachments} document${withAttachments === 1 ? '' : 's'} had attachments, whose contents are not copied`);
      }
    }
  }

  return {
    label: endpoint.label,
    provider: 'couchdb',
    shared: true,
    splits: '_all_docs keys, hashed',
    identity: async () => endpoint.identity,
    listCollections: databases,
    feed: couchChangeFeed(couch, { limit: pageSize, retries: options.retries, includeDesign: options.includeDesign, warn: options.warn }),

    async count(collection) {
      try {
        const info = (await get(`reading database ${collection}`, { db: collection }, undefined, true)) as { doc_count?: number };
        return info.doc_count;
      } catch (error) {
        if (isNotFound(error)) return undefined;
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
        yield* readDatabase(db, shard && shard.count > 1 ? shardOfDatabase(db, after, shard, signal) : wholeDatabase(db, after, signal));
      }
    },

    close: async () => {},
  };
}
