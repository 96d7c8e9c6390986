/**
 * Reads Firestore collections as Gofannon lays them out: `_id` comes from the document id.
 *
 * Each collection is one `Query.stream()` ordered by document id and consumed by async iteration,
 * so a slow target pauses the gRPC stream instead of buffering the collection; the SDK resumes the
 * stream itself after transient errors.
 *
 * Resuming from a checkpoint: in production `startAfter(lastId)` skips what was read. The emulator
 * the tests use ignores cursors (and ordering by id), so ids at or before `lastId` are also skipped
 * here: a cheap, always-correct filter given id order.
 *
 * A shard (`--shard k/N`) lists the collection's ids and reads those that hash to it by id
 * (stores/common/key-shares.ts). Partition queries (`getPartitions`) were the other candidate:
 * their split points come from the data when each shard asks (the SDK cannot pin a read time), so
 * shards that start at different moments of a written collection could disagree, reading a
 * document twice or never; and a partition spans a collection group, subcollections included.
 *
 * Following changes (`--follow`): snapshot listeners, one per collection (stores/firestore/change-feed.ts);
 * after the feed's head, a collection's snapshot is the head listener's first snapshot, not a second read.
 */
import { fatalError, isEtlError, messageOf } from '../errors.js';
import { collectionsToRead } from '../stores/common/collections.js';
import { withRetry } from '../stores/common/retry.js';
import { ownedPages, shardOfKey } from '../stores/common/key-shares.js';
import { createChangeFeed } from '../stores/firestore/change-feed.js';
import { Code, grpcCode, isTransientFirestoreError, openFirestoreClient, type FirestoreChange, type FirestoreDocument, type FirestoreReader } from '../stores/firestore/client.js';
import { firestoreConfig } from '../stores/firestore/config.js';
import { documentWithId } from '../stores/firestore/decode.js';
import type { AdapterOptions, Doc, ParsedUri, Position, Shard, Source, SourceChunk, SourceReadOptions } from '../types.js';
import { redact } from '../util/redact.js';

/** Firestore orders document ids by their UTF-8 bytes, which JavaScript's `<` does not follow. */
function compareIds(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

const defaultBatchSize = 500;

/** The source on any FirestoreReader (a fake in unit tests). */
export function createSource(
  client: FirestoreReader,
  options: Pick<AdapterOptions, 'batchSize'> & Partial<Pick<AdapterOptions, 'retries' | 'warn'>>,
): Source {
  const { label } = client;
  const batchSize = options.batchSize ?? defaultBatchSize;
  /** Root collections; undefined where the store cannot list them (the emulator: a run then reads Gofannon's nine). */
  const listCollections = async (): Promise<string[] | undefined> => {
    try {
      return (await withRetry(() => client.listCollections(), isTransientFirestoreError, { retries: options.retries ?? 0 })).sort();
    } catch (error) {
      if (grpcCode(error) === Code.UNIMPLEMENTED || /not implemented/i.test(messageOf(error))) return undefined;
      throw fatalError('firestore-list-failed', `cannot list the collections of ${label}: ${redact(messageOf(error))}`, error);
    }
  };

  /** A call under the run's retry policy (the SDK's own retries cover streams, not these). */
  const retried = <T>(call: () => Promise<T>) => withRetry(call, isTransientFirestoreError, { retries: options.retries ?? 0 });
  let saidWhole = false;

  /**
   * A shard's documents of a collection (stores/common/key-shares.ts): the ids listed a page at a
   * time (select() with no field; Firestore bills each as a read), and the shard's own read by id.
   * A server that ignores cursors (the community emulator) cannot page ids: there the shard reads
   * the collection whole and keeps the same documents, at the cost of reading the others.
   */
  async function* share(collection: string, shard: Shard, afterId: string | undefined): AsyncIterable<FirestoreDocument> {
    const cursors = await retried(() => client.honoursCursors(collection));
    // Undefined: the collection is empty, and a whole read of it costs nothing.
    if (cursors !== true) {
      if (cursors === false && !saidWhole) {
        saidWhole = true;
        options.warn?.(`${label} ignores query cursors (as the community emulator does): shard ${shard.index}/${shard.count} reads each collection whole and keeps its own documents`);
      }
      for await (const doc of client.documents(collection, afterId)) if (shardOfKey(doc.id, shard.count) === shard.index) yield doc;
      return;
    }
    const idsAfter = (id: string | undefined) => retried(() => client.ids(collection, id, batchSize));
    for await (const { keys } of ownedPages(shard, idsAfter, afterId)) yield* await retried(() => client.documentsById(collection, keys));
  }

  const feed = createChangeFeed(client, batchSize);
  return {
    label,
    provider: 'firestore',
    shared: true,
    splits: 'document ids, hashed',
    feed,
    identity: async () => client.identity,
    listCollections,
    // What a store that cannot list can still tell: a Firestore collection exists while it has a document.
    holding: async (names) => {
      const held = await Promise.all(
        names.map((name) =>
          withRetry(() => client.hasDocuments(name), isTransientFirestoreError, { retries: options.retries ?? 0 }).catch((error: unknown) => {
            throw fatalError('firestore-read-failed', `cannot read ${label} collection ${name}: ${redact(messageOf(error))}`, error);
          }),
        ),
      );
      return names.filter((_, i) => held[i]);
    },
    count: (collection) => client.count(collection),
    async *read({ shard, collections, resumeFrom, signal }: SourceReadOptions): AsyncIterable<SourceChunk> {
      // With collections chosen, nothing is listed (the emulator cannot): a missing one reads as empty.
      const names = collectionsToRead(collections ? undefined : await listCollections(), { collections, resumeFrom, missing: () => {} });
      for (const { collection, resumeAt } of names) {
        const afterId = resumeAt?.lastId as string | undefined;
        const start: Position = afterId === undefined ? { collection } : { collection, lastId: afterId };
        yield { collection, docs: [], position: start };
        let docs: Doc[] = [];
        // After a head, its listener already holds the collection: no second read (and no second
        // bill). A shard reads its share, never the whole collection the listener holds.
        const baseline = shard && shard.count > 1 ? undefined : feed.takeBaseline(collection);
        const documents = shard && shard.count > 1 ? share(collection, shard, afterId) : baseline ? baselineDocuments(baseline) : client.documents(collection, afterId);
        for await (const { id, data } of readable(documents, label, collection)) {
          signal.throwIfAborted();
          if (afterId !== undefined && compareIds(id, afterId) <= 0) continue;
          docs.push(documentWithId(id, data));
          if (docs.length >= batchSize) {
            yield chunk(collection, docs);
            docs = [];
          }
        }
        if (docs.length > 0) yield chunk(collection, docs);
      }
    },
    close: () => {
      feed.close();
      return client.close();
    },
  };
}

/** A head listener's first snapshot as the documents of a read: in id order, converted as they are taken. */
async function* baselineDocuments(changes: FirestoreChange[]): AsyncIterable<FirestoreDocument> {
  const sorted = [...changes].sort((a, b) => compareIds(a.id, b.id));
  for (const { id, data } of sorted) yield { id, data: data!() };
}

/** Stream failures (the SDK already retried transient ones) stop the run as fatal, with the store named. */
async function* readable<T>(documents: AsyncIterable<T>, label: string, collection: string): AsyncIterable<T> {
  try {
    yield* documents;
  } catch (error) {
    if (isEtlError(error)) throw error;
    throw fatalError('firestore-read-failed', `cannot read ${label} collection ${collection}: ${redact(messageOf(error))}`, error);
  }
}

function chunk(collection: string, docs: Doc[]): SourceChunk {
  const lastId = docs[docs.length - 1]!._id as string;
  return {
    collection,
    docs,
    position: { collection, lastId },
    where: (index) => `firestore ${collection}/${String(docs[index]?._id)}`,
  };
}

export default async function firestoreSource(uri: ParsedUri, options: AdapterOptions): Promise<Source> {
  return createSource(await openFirestoreClient(firestoreConfig(uri, options.env, options.warn), options.warn), options);
}
