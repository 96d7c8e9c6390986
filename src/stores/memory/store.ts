/**
 * In-process stores for `memory` / `memory:NAME`: for tests and for library users who seed or
 * inspect data in code. Documents are kept as given; readers get copies.
 */
import { ExactNumber } from '../../formats/exact-number.js';
import { maxDepth } from '../../formats/limits.js';
import type { Doc, JsonValue } from '../../types.js';

export type MemoryStore = Map<string, Map<string, Doc>>;

const stores = new Map<string, MemoryStore>();

/** The named store (created empty on first use). `memory` alone is `memory:default`. */
export function memoryStore(name = 'default'): MemoryStore {
  let store = stores.get(name);
  if (!store) stores.set(name, (store = new Map()));
  return store;
}

/** What the two memory halves use: one named store, and its name for labels and checkpoints. */
export interface MemoryClient {
  readonly label: string;
  readonly collections: MemoryStore;
}

export function openMemory(name: string): MemoryClient {
  return { label: `memory:${name}`, collections: memoryStore(name) };
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
