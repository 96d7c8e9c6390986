import { copyValue, openMemory, type MemoryClient } from '../stores/memory/store.js';
import type { MemoryChange } from '../stores/memory/change-log.js';
import type { AdapterOptions, ChangeFeed, Doc, ParsedUri, Position, Source, SourceChunk, SourceReadOptions } from '../types.js';
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
    feed: memoryFeed(client, page),
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

/**
 * The store's change log as a feed: positions are sequence numbers (`{ seq }`). Consecutive changes
 * of one collection and one kind (puts or deletes) make one chunk; once nothing is waiting, one
 * empty chunk says so (`caughtUp`), then the feed waits for the next change.
 */
function memoryFeed({ log }: MemoryClient, page: number): ChangeFeed {
  return {
    head: async () => ({ seq: log.head() }),
    async *changes({ collections, from, signal }) {
      let at = from.seq as number;
      /** The last chunk said it reached the head: no empty chunk need say it again. */
      let saidCaughtUp = false;
      for (;;) {
        signal.throwIfAborted();
        const waiting = log.after(at).filter((change) => collections.has(change.collection));
        const head = log.head();
        if (waiting.length === 0) {
          at = head;
          if (!saidCaughtUp) yield { collection: [...collections].sort()[0]!, docs: [], position: { seq: at }, lag: { changes: 0 }, caughtUp: true };
          saidCaughtUp = true;
          await log.next(at, signal);
          continue;
        }
        for (const run of runsOf(waiting, page)) {
          const last = run[run.length - 1]!;
          at = last.seq;
          const lag = { changes: head - at };
          const chunk: SourceChunk = { collection: last.collection, docs: [], position: { seq: at }, lag, caughtUp: at === head };
          if (last.doc) chunk.docs = run.map((change) => copyValue(change.doc!));
          else chunk.deletes = run.map((change) => change.id);
          saidCaughtUp = at === head;
          yield chunk;
        }
      }
    },
  };
}

/** Consecutive changes of one collection and one kind, at most `page` at a time. */
function* runsOf(changes: MemoryChange[], page: number): Iterable<MemoryChange[]> {
  let run: MemoryChange[] = [];
  for (const change of changes) {
    const first = run[0];
    if (first && (first.collection !== change.collection || !first.doc !== !change.doc || run.length >= page)) {
      yield run;
      run = [];
    }
    run.push(change);
  }
  if (run.length > 0) yield run;
}
