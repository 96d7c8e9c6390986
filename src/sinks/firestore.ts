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
import { fatalError, isEtlError, messageOf, type EtlError } from '../errors.js';
import { conflictOutcome } from '../stores/common/conflict.js';
import { writeIsolating } from '../stores/common/isolate.js';
import { withRetry } from '../stores/common/retry.js';
import { groupForCommits, MAX_WRITES_PER_COMMIT } from '../stores/firestore/batches.js';
import { Code, grpcCode, isTargetError, isTransientFirestoreError, openFirestoreClient, type FirestoreWriter } from '../stores/firestore/client.js';
import { firestoreConfig } from '../stores/firestore/config.js';
import { badName, encodeDoc, type FirestoreData } from '../stores/firestore/encode.js';
import type { AdapterOptions, Doc, ParsedUri, Sink, WriteOutcome } from '../types.js';
import { redact } from '../util/redact.js';

type Pending = { index: number; id: string; data: FirestoreData; requestBytes: number };

/** The sink on any FirestoreWriter (a fake in unit tests). */
export function createSink(client: FirestoreWriter, options: AdapterOptions): Sink {
  const { label } = client;
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
  const commitIsolating = <T extends { index: number; id: string }>(
    collection: string,
    group: T[],
    commit: (part: T[]) => Promise<void>,
    rejection: (error: unknown, id: string) => WriteOutcome,
    outcomes: WriteOutcome[],
    signal: AbortSignal,
  ): Promise<void> =>
    writeIsolating(
      group,
      async (part) => {
        try {
          await retry(() => commit(part), signal, `a commit of ${part.length} documents`);
        } catch (error) {
          signal.throwIfAborted();
          stopIfFatal(error, collection);
          throw error;
        }
        for (const item of part) outcomes[item.index] = { status: 'written' };
      },
      (error) => !signal.aborted && !isEtlError(error),
      (item, error) => (outcomes[item.index] = rejection(error, item.id)),
    );

  const rejection = (error: unknown, mode: 'set' | 'create', id: string): WriteOutcome => {
    // ALREADY_EXISTS: created by someone else between the existence check and the commit.
    const conflict = mode === 'create' && grpcCode(error) === Code.ALREADY_EXISTS ? conflictOutcome(options.onConflict, id) : undefined;
    return conflict ?? { status: 'failed', reason: `Firestore rejected the document: ${redact(messageOf(error))}` };
  };

  const nameProblem = (collection: string): EtlError | undefined => {
    const bad = badName('collection', collection);
    return bad ? fatalError('bad-collection-name', `cannot write to ${label}: ${bad}`) : undefined;
  };

  return {
    label,
    provider: 'firestore',
    batchSize: Math.min(options.batchSize ?? MAX_WRITES_PER_COMMIT, MAX_WRITES_PER_COMMIT),
    concurrency: options.concurrency ?? 4,
    identity: async () => client.identity,
    // Firestore creates collections with their first document; only the name can be wrong.
    preflight: async (collections) => collections.flatMap((collection) => nameProblem(collection) ?? []),
    async prepare(collection) {
      const problem = nameProblem(collection);
      if (problem) throw problem;
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
      const commit = (part: Pending[]) => client.commit(collection, part, mode);
      const refused = (error: unknown, id: string) => rejection(error, mode, id);
      await Promise.all(groupForCommits(pending).map((group) => commitIsolating(collection, group, commit, refused, outcomes, signal)));
      return outcomes;
    },
    async remove(collection: string, ids: string[], signal: AbortSignal): Promise<WriteOutcome[]> {
      signal.throwIfAborted();
      const outcomes: WriteOutcome[] = new Array(ids.length);
      const deletes: { index: number; id: string; requestBytes: number }[] = [];
      ids.forEach((id, index) => {
        // An id Firestore cannot hold was never written here: it is absent, so removed. Sending it
        // would be wrong besides ("a/b" names a document in a subcollection).
        if (badName('document id', id)) outcomes[index] = { status: 'written' };
        else deletes.push({ index, id, requestBytes: Buffer.byteLength(id) + collection.length + 100 });
      });
      const commit = (part: typeof deletes) => client.remove(collection, part.map((d) => d.id));
      const refused = (error: unknown): WriteOutcome => ({ status: 'failed', reason: `Firestore refused the delete: ${redact(messageOf(error))}` });
      await Promise.all(groupForCommits(deletes).map((group) => commitIsolating(collection, group, commit, refused, outcomes, signal)));
      return outcomes;
    },
    async *ids(collection: string, signal: AbortSignal): AsyncIterable<string[]> {
      let batch: string[] = [];
      try {
        for await (const id of client.allIds(collection)) {
          signal.throwIfAborted();
          batch.push(id);
          if (batch.length >= MAX_WRITES_PER_COMMIT) {
            yield batch;
            batch = [];
          }
        }
      } catch (error) {
        signal.throwIfAborted();
        throw fatalError('firestore-read-failed', `cannot list the documents of ${label} collection ${collection}: ${redact(messageOf(error))}`, error);
      }
      if (batch.length > 0) yield batch;
    },
    close: () => client.close(),
  };
}

export default async function firestoreSink(uri: ParsedUri, options: AdapterOptions): Promise<Sink> {
  return createSink(await openFirestoreClient(firestoreConfig(uri, options.env, options.warn), options.warn), options);
}
