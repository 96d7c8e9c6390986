/**
 * A shard's share of a store ordered by string key (CouchDB `_all_docs`, Firestore document ids),
 * as key ranges every shard chooses the same way without asking the data or each other.
 *
 * The key space is cut into cells by a key's first few characters (`width`), and a cell belongs to
 * the shard its prefix hashes to. Because that choice depends on nothing but the key and the shard
 * count, shards planning at different moments never disagree: a document present throughout the
 * run is in exactly one shard's ranges, whatever is created or deleted meanwhile. (Boundaries taken
 * from the data, quantiles of a key list or a store's own split points, shift when the data does,
 * and then a document can fall between two shards' plans or into both.) Hashing prefixes, not
 * ranges of the alphabet, keeps shares even for UUIDs, e-mail addresses and random tokens alike.
 *
 * A shard walks the key space in order: it asks the store for a page of keys from where it is
 * (keys only), reads the cells among them that are its own (by key, or as a range for a cell that
 * goes on past the page), and goes on from the end of the last cell seen. So it lists at most one
 * page of keys per non-empty cell and no key twice: where cells are small it lists every key once
 * (a keys-only pass), where they are large it jumps over the ones it does not own.
 * Keys sharing a prefix longer than the width (one user's `agent_data_store` entries) share a shard.
 *
 * Cells are whole ranges in both orders stores use for keys: UTF-8 bytes (CouchDB, Firestore) and
 * UTF-16 code units (PouchDB). Prefixes are taken only over code units below 0xD000, where the two
 * orders agree; a key with a higher code unit within its first `width` belongs to a tail cell that
 * runs from that point to the end of its shorter prefix.
 */
import type { Shard } from '../../types.js';
import { stableHash } from '../../util/stable-hash.js';

/** A lower bound: from `key` on, or after it. */
export interface From {
  key: string;
  after: boolean;
}

/** An upper bound: up to `key` excluded, or through it. Absent: to the end of the key space. */
export interface Until {
  key: string;
  through: boolean;
}

/** A range of keys: from the first key found in a cell to the cell's end; no bound is the end of the key space. */
export interface KeyRange {
  from?: From;
  until?: Until;
}

/** Code units from here on order differently in UTF-8 and UTF-16 (surrogates, U+E000..U+FFFF). */
const highUnit = 0xd000;

/** Prefix width: enough cells (256 per shard for hex ids) that hashing them gives even shares. */
export function cellWidth(count: number): number {
  let width = 3;
  while (16 ** width < 256 * count) width++;
  return width;
}

interface Cell {
  /** What the owner is hashed from: the kind and the prefix. */
  name: string;
  /** Where the cell ends; undefined at the end of the key space. */
  until?: Until;
}

function successor(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

function cellOf(key: string, width: number): Cell {
  let length = 0;
  while (length < width && length < key.length && key.charCodeAt(length) < highUnit) length++;
  const prefix = key.slice(0, length);
  // A key shorter than the width is a cell of its own: the keys that extend it are other cells.
  if (length === key.length) return { name: `=${prefix}`, until: { key, through: true } };
  if (length === width) return { name: `^${prefix}`, until: { key: successor(prefix), through: false } };
  return { name: `~${prefix}`, ...(prefix ? { until: { key: successor(prefix), through: false } } : {}) };
}

/** The shard that reads `key`: what every shard computes alike. */
export function shardOfKey(key: string, count: number): number {
  return stableHash(cellOf(key, cellWidth(count)).name) % count;
}

/** What a shard reads next: documents by key (its cells an answer listed whole), or a key range. */
export type Part = { keys: string[] } | { range: KeyRange };

/**
 * What shard `shard` reads, in key order, from `start` (a resumed run's last key, after it) on.
 * `keysFrom(from)` answers the store's next keys at or after the bound, in its order (as many as
 * it likes, at least one unless there is none). Parts are produced lazily: read each before asking
 * for the next.
 */
export async function* ownedParts(shard: Shard, keysFrom: (from: From | undefined) => Promise<string[]>, start?: From): AsyncGenerator<Part> {
  const width = cellWidth(shard.count);
  const owned = (cell: Cell) => stableHash(cell.name) % shard.count === shard.index;
  let from = start;
  for (;;) {
    const keys = await keysFrom(from);
    if (keys.length === 0) return;
    // Keys come in order and cells are ranges, so a cell's keys are consecutive: a new name is a
    // new cell. Every cell of the answer but the last was listed whole (there was no other key
    // between the answer's keys when it was given): its documents are read by key. The last may
    // go on past the answer: it is read as a range to its end.
    const cells: { cell: Cell; keys: string[] }[] = [];
    for (const key of keys) {
      const cell = cellOf(key, width);
      if (cell.name === cells.at(-1)?.cell.name) cells.at(-1)!.keys.push(key);
      else cells.push({ cell, keys: [key] });
    }
    const last = cells.pop()!;
    const whole = cells.filter(({ cell }) => owned(cell)).flatMap((c) => c.keys);
    if (whole.length > 0) yield { keys: whole };
    const { until } = last.cell;
    if (owned(last.cell)) yield { range: { from: { key: last.keys[0]!, after: false }, ...(until ? { until } : {}) } };
    if (!until) return;
    from = { key: until.key, after: until.through };
  }
}
