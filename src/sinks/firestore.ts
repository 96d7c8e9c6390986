/**
 * Writes documents into Firestore the way Gofannon lays them out: a collection per collection,
 * document id = `_id` (the field itself is not stored; Gofannon re-adds it from the id).
 *
 * Writes go through WriteBatch commits (atomic, ≤ 500 writes, ≤ 10 MiB), which work on Firestore
 * and on the emulator the tests use; BulkWriter (BatchWrite) would answer per document but the
 * emulator lacks it. Documents Firestore cannot hold are refused one by one before a batch is sent
 * (encode.ts); a batch that still fails as a whole is split in halves until the document to blame
 * is alone, so only it is dead-lettered.
 */
import type { Firestore } from '@google-cloud/firestore';
import { fatalError, isEtlError, messageOf } from '../errors.js';
import { connectFirestore, Code, grpcCode, isTargetError, isTransientFirestoreError } from '../stores/firestore/client.js';
import { firestoreConfig, firestoreLabel } from '../stores/firestore/config.js';
import { groupForCommits, MAX_WRITES_PER_COMMIT } from '../stores/firestore/batches.js';
import { badName, encodeDoc, type FirestoreData } from '../stores/firestore/encode.js';
import { conflictOutcome } from '../stores/common/conflict.js';
import { writeIsolating } from '../stores/common/isolate.js';
import { redact } from '../util/redact.js';
import { withRetry } from '../stores/common/retry.js';
import type { AdapterOptions, Doc, ParsedUri, Sink, WriteOutcome } from '../types.js';

export interface FirestoreWrite {
  id: string;
  data: FirestoreData;
}

/** The calls the sink makes: narrow, so a test can hand in a fake. */
export interface FirestoreWriteClient {
  /** Commits all writes in one atomic batch: `set` replaces, `create` fails if the document exists. */
  commit(collection: string, writes: FirestoreWrite[], mode: 'set' | 'create'): Promise<void>;
  /** Which of these document ids exist. */
  existing(collection: string, ids: string[]): Promise<Set<string>>;
  close(): Promise<void>;
}

export function firestoreWriteClient(db: Firestore): FirestoreWriteClient {
  return {
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
    // terminate() re-raises a client that failed to start (missing credentials), which the
    // failed write has already reported as fatal.
    close: () => db.terminate().catch(() => {}),
  };
}

type Pending = { index: number; id: string; data: FirestoreData; requestBytes: number };

export interface FirestoreSinkSettings {
  client: FirestoreWriteClient;
  label: string;
  identity: string;
  options: AdapterOptions;
}

export function createFirestoreSink({ client, label, identity, options }: FirestoreSinkSettings): Sink {
  const retry = <T>(attempt: () => Promise<T>, signal: AbortSignal, what: string): Promise<T> =>
    withRetry(attempt, isTransientFirestoreError, {
      retries: options.retries,
      signal,
      onRetry: (error) => options.warn(`${label}: retrying ${what} after ${redact(messageOf(error))}`),
    });

  /**
   * Errors no single document is to blame for stop the run: the target's own (credentials,
   * missing database), transient ones that outlived the retry budget, and any error without a
   * gRPC status (the client could not even start, e.g. no default credentials).
   */
  const stopIfFatal = (error: unknown, collection: string): void => {
    if (isTargetError(error) || isTransientFirestoreError(error) || grpcCode(error) === undefined) {
      throw fatalError('firestore-write-failed', `cannot write to ${label} collection ${collection}: ${redact(messageOf(error))}`, error);
    }
  };

  /** A commit that fails as a whole is halved until the document to blame fails alone. */
  const commitIsolating = (collection: string, group: Pending[], mode: 'set' | 'create', outcomes: WriteOutcome[], signal: AbortSignal): Promise<void> =>
    writeIsolating(
      group,
      async (part) => {
        try {
          await retry(() => client.commit(collection, part, mode), signal, `a commit of ${part.length} documents`);
        } catch (error) {
          signal.throwIfAborted();
          stopIfFatal(error, collection);
          throw error;
        }
        for (const item of part) outcomes[item.index] = { status: 'written' };
      },
      (error) => !signal.aborted && !isEtlError(error),
      (item, error) => (outcomes[item.index] = rejection(error, mode, item.id)),
    );

  const rejection = (error: unknown, mode: 'set' | 'create', id: string): WriteOutcome => {
    // ALREADY_EXISTS: created by someone else between the existence check and the commit.
    const conflict = mode === 'create' && grpcCode(error) === Code.ALREADY_EXISTS ? conflictOutcome(options.onConflict, id) : undefined;
    return conflict ?? { status: 'failed', reason: `Firestore rejected the document: ${redact(messageOf(error))}` };
  };

  return {
    label,
    provider: 'firestore',
    batchSize: Math.min(options.batchSize ?? MAX_WRITES_PER_COMMIT, MAX_WRITES_PER_COMMIT),
    concurrency: options.concurrency ?? 4,
    identity: async () => identity,
    async prepare(collection) {
      // Firestore creates collections with their first document; only the name can be wrong.
      const bad = badName('collection', collection);
      if (bad) throw fatalError('bad-collection-name', `cannot write to ${label}: ${bad}`);
    },
    check(doc, collection) {
      const encoded = encodeDoc(doc, collection);
      return encoded.ok ? undefined : encoded.reason;
    },
    async write(collection: string, docs: Doc[], signal: AbortSignal): Promise<WriteOutcome[]> {
      signal.throwIfAborted();
      const outcomes: WriteOutcome[] = new Array(docs.length);
      let pending: Pending[] = [];
      // check() ran already in the pipeline; encoding again is cheap and keeps write() safe alone.
      docs.forEach((doc, index) => {
        const encoded = encodeDoc(doc, collection);
        if (encoded.ok) pending.push({ index, id: encoded.id, data: encoded.data, requestBytes: encoded.requestBytes });
        else outcomes[index] = { status: 'failed', reason: encoded.reason };
      });
      const mode = options.onConflict === 'overwrite' ? 'set' : 'create';
      if (mode === 'create' && pending.length > 0) {
        // One read per batch: a create() on an existing document would fail the whole commit.
        let exists: Set<string>;
        try {
          exists = await retry(() => client.existing(collection, pending.map((p) => p.id)), signal, 'an existence check');
        } catch (error) {
          signal.throwIfAborted();
          throw fatalError('firestore-read-failed', `cannot check existing documents in ${label} collection ${collection}: ${redact(messageOf(error))}`, error);
        }
        pending = pending.filter((p) => {
          const conflict = exists.has(p.id) ? conflictOutcome(options.onConflict, p.id) : undefined;
          if (conflict) outcomes[p.index] = conflict;
          return !conflict;
        });
      }
      await Promise.all(groupForCommits(pending).map((group) => commitIsolating(collection, group, mode, outcomes, signal)));
      return outcomes;
    },
    close: () => client.close(),
  };
}

export default async function firestoreSink(uri: ParsedUri, options: AdapterOptions): Promise<Sink> {
  const config = firestoreConfig(uri, options.env);
  const label = firestoreLabel(config);
  const { db } = await connectFirestore(config);
  return createFirestoreSink({ client: firestoreWriteClient(db), label, identity: label, options });
}
