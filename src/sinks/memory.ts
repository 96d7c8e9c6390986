import { conflictOutcome } from '../stores/common/conflict.js';
import { openMemory, writerOf, type MemoryClient } from '../stores/memory/store.js';
import type { AdapterOptions, Doc, ParsedUri, Sink, WriteOutcome } from '../types.js';

export default function memorySink(uri: ParsedUri, options: AdapterOptions): Sink {
  return createSink(openMemory(uri.rest || 'default'), options);
}

/** Writes into a memory store (logged, so a memory target can be followed in turn); honours --on-conflict like the database sinks. */
export function createSink(client: MemoryClient, options: AdapterOptions): Sink {
  const { label, collections: store } = client;
  const writer = writerOf(client);
  return {
    label,
    provider: 'memory',
    batchSize: options.batchSize ?? 500,
    concurrency: 1,
    identity: async () => label,
    prepare: async (collection) => void (store.has(collection) || store.set(collection, new Map())),
    wouldCreate: async (collection) => (store.has(collection) ? undefined : `memory collection ${collection}`),
    async write(collection: string, docs: Doc[]): Promise<WriteOutcome[]> {
      const docsById = store.get(collection)!;
      return docs.map((doc) => {
        const id = doc._id as string;
        const conflict = docsById.has(id) ? conflictOutcome(options.onConflict, id) : undefined;
        if (conflict) return conflict;
        writer.put(collection, doc);
        return { status: 'written' };
      });
    },
    async remove(collection: string, ids: string[]): Promise<WriteOutcome[]> {
      return ids.map((id) => {
        writer.delete(collection, id);
        return { status: 'written' };
      });
    },
    close: async () => {},
  };
}
