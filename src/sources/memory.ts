import { copyValue, openMemory, type MemoryClient } from '../stores/memory/store.js';
import type { AdapterOptions, Doc, ParsedUri, Position, Source, SourceChunk, SourceReadOptions } from '../types.js';
import { collectionsToRead } from '../stores/common/collections.js';

const pageSize = 1000;

export default function memorySource(uri: ParsedUri, options: Pick<AdapterOptions, 'batchSize' | 'warn'>): Source {
  return createSource(openMemory(uri.rest || 'default'), options);
}

/** Reads a memory store collection by collection (sorted), documents in `_id` order. */
export function createSource(client: MemoryClient, options: Pick<AdapterOptions, 'batchSize' | 'warn'>): Source {
  const { label, collections: store } = client;
  const page = options.batchSize ?? pageSize;
  return {
    label,
    provider: 'memory',
    identity: async () => label,
    listCollections: async () => [...store.keys()].sort(),
    count: async (collection) => store.get(collection)?.size,
    async *read({ collections, resumeFrom, signal }: SourceReadOptions): AsyncIterable<SourceChunk> {
      const names = collectionsToRead([...store.keys()], {
        collections,
        resumeFrom,
        missing: (absent) => options.warn(`${label}: no collection ${absent.join(', ')}; nothing read from ${absent.length === 1 ? 'it' : 'them'}`),
      });
      for (const { collection, resumeAt } of names) {
        const after = resumeAt?.after as string | undefined;
        const ids = [...store.get(collection)!.keys()].sort().filter((id) => after === undefined || id > after);
        yield { collection, docs: [], position: { collection } };
        for (let i = 0; i < ids.length; i += page) {
          signal.throwIfAborted();
          const slice = ids.slice(i, i + page);
          const docs: Doc[] = slice.map((id) => copyValue(store.get(collection)!.get(id)!));
          const position: Position = { collection, after: slice[slice.length - 1]! };
          yield { collection, docs, position, where: (index) => `${label} ${collection} _id ${slice[index]}` };
        }
      }
    },
    close: async () => {},
  };
}
