/**
 * The narrow Firestore clients the two halves use (only the calls they make, so unit tests hand in
 * fakes), the real one on the SDK (loaded only when a Firestore store is used), and the judgement
 * of its errors.
 */
import type { Firestore } from '@google-cloud/firestore';
import { fatalError, messageOf } from '../../errors.js';
import type { JsonValue } from '../../types.js';
import { redact } from '../../util/redact.js';
import { isNetworkError } from '../common/retry.js';
import { firestoreLabel, type FirestoreConfig } from './config.js';
import { createDecoder } from './decode.js';
import type { FirestoreData } from './encode.js';

export type FirestoreSdk = typeof import('@google-cloud/firestore');

/** Where a client points, without secrets: `label` for messages, `identity` for checkpoints, `where` for hints. */
interface FirestoreAddress {
  readonly label: string;
  readonly identity: string;
  /** The emulator's host:port or `project x`. */
  readonly where: string;
}

export interface FirestoreDocument {
  id: string;
  data: { [key: string]: JsonValue };
}

/** An instant as Firestore gives it (a snapshot's readTime, a document's updateTime). */
export interface FirestoreTime {
  seconds: number;
  nanoseconds: number;
}

/** One document's change in a listener's snapshot: added and modified are `put`, removed is `delete`. */
export interface FirestoreChange {
  kind: 'put' | 'delete';
  id: string;
  /** A put's last write. */
  updateTime?: FirestoreTime;
  /** A put's fields, converted to JSON values when asked (a change superseded before delivery never is). */
  data?: () => { [key: string]: JsonValue };
}

/** What a listener hears each time: the first snapshot adds every document, later ones their changes. */
export interface FirestoreSnapshot {
  readTime: FirestoreTime;
  changes: FirestoreChange[];
}

/** The calls the source makes. */
export interface FirestoreReader extends FirestoreAddress {
  /** Root collection ids. */
  listCollections(): Promise<string[]>;
  /** Whether the collection has a document (a Firestore collection exists only while it does). */
  hasDocuments(collection: string): Promise<boolean>;
  count(collection: string): Promise<number>;
  /** Documents in id order, after `afterId` when given, already converted to JSON values. */
  documents(collection: string, afterId: string | undefined): AsyncIterable<FirestoreDocument>;
  /** The documents with these ids that exist, in the order given. */
  documentsById(collection: string, ids: string[]): Promise<FirestoreDocument[]>;
  /** Up to `limit` document ids in id order after `afterId` (from the first without), reading no field. */
  ids(collection: string, afterId: string | undefined, limit: number): Promise<string[]>;
  /**
   * Whether the server honours query cursors, judged on the collection's first two documents (the
   * community emulator ignores cursors and order); undefined when the collection has none.
   */
  honoursCursors(collection: string): Promise<boolean | undefined>;
  /** A snapshot listener on the whole collection (`onSnapshot`); answers its unsubscribe. */
  listen(collection: string, onSnapshot: (snapshot: FirestoreSnapshot) => void, onError: (error: unknown) => void): () => void;
  close(): Promise<void>;
}

export interface FirestoreWrite {
  id: string;
  data: FirestoreData;
}

/** The calls the sink makes. */
export interface FirestoreWriter extends FirestoreAddress {
  /** Commits all writes in one atomic batch: `set` replaces, `create` fails if the document exists. */
  commit(collection: string, writes: FirestoreWrite[], mode: 'set' | 'create'): Promise<void>;
  /** Which of these document ids exist. */
  existing(collection: string, ids: string[]): Promise<Set<string>>;
  /** Deletes these documents in one atomic batch; an absent one is no error. */
  remove(collection: string, ids: string[]): Promise<void>;
  /** Every document id of the collection, read without fields, in one stream (no cursors, which the emulator ignores). */
  allIds(collection: string): AsyncIterable<string>;
  close(): Promise<void>;
}

export type FirestoreClient = FirestoreReader & FirestoreWriter;

/** The real client on the SDK; `warn` hears of values JSON cannot carry. */
export async function openFirestoreClient(config: FirestoreConfig, warn: (message: string) => void): Promise<FirestoreClient> {
  const { db, sdk } = await connectFirestore(config);
  const label = firestoreLabel(config);
  /** A collection's documents as JSON values; `warn` hears of a value JSON cannot carry, naming its document. */
  const decoding = (collection: string) => {
    let id = '';
    const decode = createDecoder(sdk, (path, what) =>
      warn(`${collection}/${id}: field "${path}" holds ${what}, which JSON cannot carry; it is read as null`),
    );
    return (docId: string, data: { [key: string]: unknown }): FirestoreDocument => {
      id = docId;
      return { id, data: decode(data) };
    };
  };
  /** A collection's documents in id order, after `afterId` when given. */
  const byId = (collection: string, afterId: string | undefined) => {
    const query = db.collection(collection).orderBy(sdk.FieldPath.documentId());
    return afterId === undefined ? query : query.startAfter(afterId);
  };
  return {
    label,
    identity: label,
    where: config.emulatorHost ?? `project ${config.projectId}`,
    listCollections: async () => (await db.listCollections()).map((c) => c.id),
    hasDocuments: async (collection) => !(await db.collection(collection).limit(1).get()).empty,
    count: async (collection) => Number((await db.collection(collection).count().get()).data().count),
    async *documents(collection, afterId) {
      const decode = decoding(collection);
      for await (const snapshot of byId(collection, afterId).stream()) {
        const doc = snapshot as unknown as { id: string; data(): { [key: string]: unknown } };
        yield decode(doc.id, doc.data());
      }
    },
    async documentsById(collection, ids) {
      if (ids.length === 0) return [];
      const ref = db.collection(collection);
      const decode = decoding(collection);
      return (await db.getAll(...ids.map((id) => ref.doc(id)))).filter((s) => s.exists).map((s) => decode(s.id, s.data()!));
    },
    ids: async (collection, afterId, limit) => (await byId(collection, afterId).select().limit(limit).get()).docs.map((d) => d.id),
    async honoursCursors(collection) {
      const first = (await byId(collection, undefined).select().limit(1).get()).docs[0];
      if (!first) return undefined;
      const next = (await byId(collection, first.id).select().limit(1).get()).docs[0];
      return next?.id !== first.id;
    },
    listen(collection, onSnapshot, onError) {
      const decode = decoding(collection);
      return db.collection(collection).onSnapshot((snapshot) => {
        const changes = snapshot.docChanges().map(({ type, doc }): FirestoreChange => {
          if (type === 'removed') return { kind: 'delete', id: doc.id };
          return { kind: 'put', id: doc.id, updateTime: time(doc.updateTime), data: () => decode(doc.id, doc.data()).data };
        });
        onSnapshot({ readTime: time(snapshot.readTime), changes });
      }, onError);
    },
    async commit(collection, writes, mode) {
      const batch = db.batch();
      const ref = db.collection(collection);
      for (const write of writes) {
        try {
          if (mode === 'set') batch.set(ref.doc(write.id), write.data);
          else batch.create(ref.doc(write.id), write.data);
        } catch (error) {
          // The SDK's own validation: about this document, like a server's INVALID_ARGUMENT.
          throw Object.assign(new Error(messageOf(error)), { code: Code.INVALID_ARGUMENT });
        }
      }
      await batch.commit();
    },
    async existing(collection, ids) {
      if (ids.length === 0) return new Set();
      const ref = db.collection(collection);
      const snapshots = await db.getAll(...ids.map((id) => ref.doc(id)), { fieldMask: [] });
      return new Set(snapshots.filter((s) => s.exists).map((s) => s.id));
    },
    async remove(collection, ids) {
      const batch = db.batch();
      const ref = db.collection(collection);
      for (const id of ids) batch.delete(ref.doc(id));
      await batch.commit();
    },
    async *allIds(collection) {
      for await (const snapshot of db.collection(collection).select().stream()) yield (snapshot as unknown as { id: string }).id;
    },
    // terminate() re-raises a client that failed to start (missing credentials), which the
    // failed call has already reported as fatal.
    close: () => db.terminate().catch(() => {}),
  };
}

const time = ({ seconds, nanoseconds }: FirestoreTime): FirestoreTime => ({ seconds, nanoseconds });

async function connectFirestore(config: FirestoreConfig): Promise<{ db: Firestore; sdk: FirestoreSdk }> {
  if (!config.emulatorHost) await checkCredentials(config);
  const sdk = await import('@google-cloud/firestore');
  const db = new sdk.Firestore({
    projectId: config.projectId,
    // int64 values arrive as bigint, so integers beyond 2^53 stay exact.
    useBigInt: true,
    ...(config.emulatorHost
      ? {
          // Passed explicitly so the emulator in options.env is honoured even when process.env has none.
          host: config.emulatorHost,
          ssl: false,
          // With a universe domain given, the auth library skips its GCE metadata probe, which
          // has nothing to find for an emulator and only prints a MetadataLookupWarning.
          universeDomain: 'googleapis.com',
        }
      : {}),
    ...(config.keyFilename ? { keyFilename: config.keyFilename } : {}),
  });
  return { db, sdk };
}

/**
 * Finds the credentials before the SDK does: when it cannot, the SDK's clients leave rejected
 * promises unhandled (the process dies with a stack trace) instead of failing the call.
 * google-auth-library is the auth layer the SDK itself uses (installed with it).
 */
async function checkCredentials(config: FirestoreConfig): Promise<void> {
  const { GoogleAuth } = await import('google-auth-library');
  try {
    await new GoogleAuth({ keyFilename: config.keyFilename, scopes: ['https://www.googleapis.com/auth/datastore'] }).getClient();
  } catch (error) {
    throw fatalError(
      'firestore-credentials',
      `no credentials for Firestore project ${config.projectId}: set GOOGLE_APPLICATION_CREDENTIALS to a service account key file, or FIRESTORE_EMULATOR_HOST for an emulator (${redact(messageOf(error))})`,
      error,
    );
  }
}

/** gRPC status codes the adapters act on. */
export const Code = {
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  ABORTED: 10,
  UNIMPLEMENTED: 12,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

export function grpcCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** Worth another try: Firestore's documented transient codes, and dropped connections. */
export function isTransientFirestoreError(error: unknown): boolean {
  const code = grpcCode(error);
  return (
    code === Code.UNAVAILABLE ||
    code === Code.RESOURCE_EXHAUSTED ||
    code === Code.ABORTED ||
    code === Code.DEADLINE_EXCEEDED ||
    (code === undefined && isNetworkError(error))
  );
}

/** Errors about the target as a whole (credentials, missing database): no document is to blame. */
export function isTargetError(error: unknown): boolean {
  const code = grpcCode(error);
  return code === Code.PERMISSION_DENIED || code === Code.UNAUTHENTICATED || code === Code.NOT_FOUND;
}
