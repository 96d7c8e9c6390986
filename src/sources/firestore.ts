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
 */
import { fatalError, isEtlError, messageOf } from '../errors.js';
import { collectionsToRead } from '../stores/common/collections.js';
import { withRetry } from '../stores/common/retry.js';
import { Code, grpcCode, isTransientFirestoreError, openFirestoreClient, type FirestoreReader } from '../stores/firestore/client.js';
import { firestoreConfig } from '../stores/firestore/config.js';
import type { AdapterOptions, Doc, ParsedUri, Position, Source, SourceChunk, SourceReadOptions } from '../types.js';
import { redact } from '../util/redact.js';

/** Firestore orders document ids by their UTF-8 bytes, which JavaScript's `<` does not follow. */
function compareIds(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

const defaultBatchSize = 500;

/** The source on any FirestoreReader (a fake in unit tests). */
export function createSource(client: FirestoreReader, options: Pick<AdapterOptions, 'batchSize'> & Partial<Pick<AdapterOptions, 'retries'>>): Source {
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

  return {
    label,
    provider: 'firestore',
    shared: true,
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
    async *read({ collections, resumeFrom, signal }: SourceReadOptions): AsyncIterable<SourceChunk> {
      // With collections chosen, nothing is listed (the emulator cannot): a missing one reads as empty.
      const names = collectionsToRead(collections ? undefined : await listCollections(), { collections, resumeFrom, missing: () => {} });
      for (const { collection, resumeAt } of names) {
        const afterId = resumeAt?.lastId as string | undefined;
        const start: Position = afterId === undefined ? { collection } : { collection, lastId: afterId };
        yield { collection, docs: [], position: start };
        let docs: Doc[] = [];
        for await (const { id, data } of readable(client.documents(collection, afterId), label, collection)) {
          signal.throwIfAborted();
          if (afterId !== undefined && compareIds(id, afterId) <= 0) continue;
          const doc: Doc = { _id: id };
          for (const key of Object.keys(data)) if (key !== '_id') doc[key] = data[key]!;
          docs.push(doc);
          if (docs.length >= batchSize) {
            yield chunk(collection, docs);
            docs = [];
          }
        }
        if (docs.length > 0) yield chunk(collection, docs);
      }
    },
    close: () => client.close(),
  };
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
