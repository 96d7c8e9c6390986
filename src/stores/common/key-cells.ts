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
 * A shard walks the key space in order: it asks the store for the next few keys from where it is
 * (keys only), reads the cells among them that are its own, and goes on from the end of the last
 * cell seen. So it costs at most one small keys-only request per non-empty cell (far fewer where
 * cells are small: one answer sees many), lists no key twice, and never lists a large cell it skips.
 * Keys sharing a prefix longer than the width (one user's `agent_data_store` entries) share a shard.
 *
 * Cells are whole ranges in both orders stores use for keys: UTF-8 bytes (CouchDB, Firestore) and
 * UTF-16 code units (PouchDB). Prefixes are taken only over code units below 0xD000, where the two
 * orders agree; a key with a higher code unit within its first `width` belongs to a tail cell that
 * runs from that point to the end of its shorter prefix.
 */
import type { Shard } from '../../types.js';

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

/** One range of keys a shard reads: from the first key found in a cell it owns to the cell's end. */
export interface KeyRange {
  from: From;
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

/** FNV-1a over the name's code units: stable across processes, versions and platforms. */
function hash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** The shard that reads `key`: what every shard computes alike. */
export function shardOfKey(key: string, count: number): number {
  return hash(cellOf(key, cellWidth(count)).name) % count;
}

/**
 * The ranges shard `shard` reads, in key order, from `start` (a resumed run's last key, after it)
 * on. `keysFrom(from)` answers the store's next keys at or after the bound, in its order (as many
 * as it likes, at least one unless there is none). Ranges are produced lazily: read each before
 * asking for the next.
 */
export async function* ownedRanges(shard: Shard, keysFrom: (from: From | undefined) => Promise<string[]>, start?: From): AsyncGenerator<KeyRange> {
  const width = cellWidth(shard.count);
  const owned = (cell: Cell) => hash(cell.name) % shard.count === shard.index;
  let from = start;
  for (;;) {
    const keys = await keysFrom(from);
    if (keys.length === 0) return;
    // Keys come in order and cells are ranges, so a cell's keys are consecutive: a new name is a new
    // cell. Between two keys of one answer there was no other key when it was given, so every
    // cell of the answer can be taken in turn, even after reading an earlier one took a while.
    let cell: Cell | undefined;
    for (const key of keys) {
      const next = cellOf(key, width);
      if (next.name === cell?.name) continue;
      cell = next;
      if (owned(cell)) yield { from: { key, after: false }, ...(cell.until ? { until: cell.until } : {}) };
    }
    if (!cell!.until) return;
    from = { key: cell!.until.key, after: cell!.until.through };
  }
}
