import { conflictOutcome } from '../stores/common/conflict.js';
import { copyValue, openMemory, type MemoryClient } from '../stores/memory/store.js';
import type { AdapterOptions, Doc, ParsedUri, Sink, WriteOutcome } from '../types.js';

export default function memorySink(uri: ParsedUri, options: AdapterOptions): Sink {
  return createSink(openMemory(uri.rest || 'default'), options);
}

/** Writes into a memory store; honours --on-conflict like the database sinks. */
export function createSink(client: MemoryClient, options: AdapterOptions): Sink {
  const { label, collections: store } = client;
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
        docsById.set(id, copyValue(doc));
        return { status: 'written' };
      });
    },
    close: async () => {},
  };
}
