/**
 * In-process stores for `memory` / `memory:NAME`: for tests and for library users who seed or
 * inspect data in code. Documents are kept as given; readers get copies. Changes made through a
 * store's writer (the memory sink, `memoryWriter`) are logged for `--follow` (see change-log.ts).
 */
import { ExactNumber } from '../../formats/exact-number.js';
import { maxDepth } from '../../formats/limits.js';
import type { Doc, JsonValue } from '../../types.js';
import { ChangeLog } from './change-log.js';

export type MemoryStore = Map<string, Map<string, Doc>>;

/** What the two memory halves use: one named store, its change log, and its name for labels and checkpoints. */
export interface MemoryClient {
  readonly label: string;
  readonly collections: MemoryStore;
  readonly log: ChangeLog;
}

const stores = new Map<string, MemoryClient>();

export function openMemory(name: string): MemoryClient {
  let client = stores.get(name);
  if (!client) {
    const label = `memory:${name}`;
    stores.set(name, (client = { label, collections: new Map(), log: new ChangeLog(label) }));
  }
  return client;
}

/** The named store (created empty on first use). `memory` alone is `memory:default`. */
export function memoryStore(name = 'default'): MemoryStore {
  return openMemory(name).collections;
}

/** Changes a memory store as an application would, logged so that a `--follow` run sees them. */
export interface MemoryWriter {
  /** Creates or replaces the document with its `_id` (a copy is kept). */
  put(collection: string, doc: Doc): void;
  /** Removes the document with this `_id`, if there is one (logged either way, as a database would). */
  delete(collection: string, id: string): void;
}

export function memoryWriter(name = 'default'): MemoryWriter {
  return writerOf(openMemory(name));
}

export function writerOf({ collections, log }: MemoryClient): MemoryWriter {
  return {
    put(collection, doc) {
      const id = doc._id as string;
      const kept = copyValue(doc);
      let docs = collections.get(collection);
      if (!docs) collections.set(collection, (docs = new Map()));
      docs.set(id, kept);
      log.append(collection, id, kept);
    },
    delete(collection, id) {
      collections.get(collection)?.delete(id);
      log.append(collection, id);
    },
  };
}

/**
 * Deep copy that keeps ExactNumber values (immutable, so shared) where structuredClone would flatten
 * them. Below maxDepth the value is shared, not copied: the recursion stays bounded, and the
 * pipeline refuses a document that deep anyway.
 */
export function copyValue<T extends JsonValue>(value: T, depth = 1): T {
  if (value === null || typeof value !== 'object' || value instanceof ExactNumber || depth > maxDepth) return value;
  if (Array.isArray(value)) return value.map((item) => copyValue(item, depth + 1)) as T;
  const out: { [key: string]: JsonValue } = {};
  for (const key of Object.keys(value)) out[key] = copyValue((value as { [key: string]: JsonValue })[key]!, depth + 1);
  return out as T;
}
