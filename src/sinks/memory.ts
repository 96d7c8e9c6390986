import { conflictOutcome } from '../stores/common/conflict.js';
import { copyValue, memoryStore } from '../stores/memory/store.js';
import type { AdapterOptions, Doc, ParsedUri, Sink, WriteOutcome } from '../types.js';

/** Writes into a memory store; honours --on-conflict like the database sinks. */
export default function memorySink(uri: ParsedUri, options: AdapterOptions): Sink {
  const name = uri.rest || 'default';
  const store = memoryStore(name);
  return {
    label: `memory:${name}`,
    provider: 'memory',
    batchSize: options.batchSize ?? 500,
    concurrency: 1,
    identity: async () => `memory:${name}`,
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
