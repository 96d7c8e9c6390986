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
import type { Firestore } from '@google-cloud/firestore';
import { fatalError, isEtlError, messageOf, usageError } from '../errors.js';
import { connectFirestore, Code, grpcCode, type FirestoreSdk } from '../stores/firestore/client.js';
import { firestoreConfig, firestoreLabel } from '../stores/firestore/config.js';
import { createDecoder } from '../stores/firestore/decode.js';
import { redact } from '../util/redact.js';
import type { AdapterOptions, Doc, JsonValue, ParsedUri, Position, Source, SourceChunk, SourceReadOptions } from '../types.js';

export interface FirestoreDocument {
  id: string;
  data: { [key: string]: JsonValue };
}

/** The calls the source makes: narrow, so a test can hand in a fake. */
export interface FirestoreReadClient {
  /** Root collection ids. */
  listCollections(): Promise<string[]>;
  count(collection: string): Promise<number>;
  /** Documents in id order, after `afterId` when given, already converted to JSON values. */
  documents(collection: string, afterId: string | undefined): AsyncIterable<FirestoreDocument>;
  close(): Promise<void>;
}

export function firestoreReadClient(db: Firestore, sdk: FirestoreSdk, warn: (message: string) => void): FirestoreReadClient {
  return {
    listCollections: async () => (await db.listCollections()).map((c) => c.id),
    count: async (collection) => Number((await db.collection(collection).count().get()).data().count),
    async *documents(collection, afterId) {
      let query = db.collection(collection).orderBy(sdk.FieldPath.documentId());
      if (afterId !== undefined) query = query.startAfter(afterId);
      let id = '';
      const decode = createDecoder(sdk, (path, what) =>
        warn(`${collection}/${id}: field "${path}" holds ${what}, which JSON cannot carry; it is read as null`),
      );
      for await (const snapshot of query.stream()) {
        const doc = snapshot as unknown as { id: string; data(): { [key: string]: unknown } };
        id = doc.id;
        yield { id, data: decode(doc.data()) };
      }
    },
    // terminate() re-raises a client that failed to start (missing credentials), already reported.
    close: () => db.terminate().catch(() => {}),
  };
}

/** Firestore orders document ids by their UTF-8 bytes, which JavaScript's `<` does not follow. */
function compareIds(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export interface FirestoreSourceSettings {
  client: FirestoreReadClient;
  label: string;
  identity: string;
  /** Where the store is, for the "cannot list" message. */
  where: string;
  batchSize?: number;
}

export function createFirestoreSource({ client, label, identity, where, batchSize = 500 }: FirestoreSourceSettings): Source {
  const listCollections = async (): Promise<string[]> => {
    try {
      return (await client.listCollections()).sort();
    } catch (error) {
      if (grpcCode(error) === Code.UNIMPLEMENTED || /not implemented/i.test(messageOf(error))) {
        throw usageError('cannot-list-collections', `Firestore at ${where} cannot list its collections; name them with --collections agents,users,...`, error);
      }
      throw fatalError('firestore-list-failed', `cannot list the collections of ${label}: ${redact(messageOf(error))}`, error);
    }
  };

  return {
    label,
    provider: 'firestore',
    identity: async () => identity,
    listCollections,
    count: (collection) => client.count(collection),
    async *read({ collections, resumeFrom, signal }: SourceReadOptions): AsyncIterable<SourceChunk> {
      const names = collections ? [...collections].sort() : await listCollections();
      const resumeCollection = resumeFrom?.collection as string | undefined;
      for (const collection of names) {
        if (resumeCollection !== undefined && collection < resumeCollection) continue;
        const afterId = collection === resumeCollection ? (resumeFrom?.lastId as string | undefined) : undefined;
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
  const config = firestoreConfig(uri, options.env);
  const label = firestoreLabel(config);
  const { db, sdk } = await connectFirestore(config);
  return createFirestoreSource({
    client: firestoreReadClient(db, sdk, options.warn),
    label,
    identity: label,
    where: config.emulatorHost ?? `project ${config.projectId}`,
    batchSize: options.batchSize,
  });
}
