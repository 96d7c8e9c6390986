/**
 * A shard's share of a store that lists its keys in order (CouchDB `_all_docs`, Firestore document
 * ids), chosen from each key alone: the key's stable hash modulo the shard count, the same rule as
 * the hash split of sources without a native split (src/pipeline/shards.ts).
 *
 * Why not key ranges: boundaries taken from the data (quantiles of a keys-only pass, a store's own
 * split points) move when documents are created or deleted between two shards' planning, and a
 * document present throughout could then be read twice or by no shard; and ranges of the key space
 * fixed in advance (by first characters) cannot be even for ids that share a long prefix, as
 * `agent_data_store` ids share their user's id, or e-mail addresses and Google ids their first
 * characters. A hash of the whole key is even for any ids and needs no plan in common.
 *
 * What it costs: every shard lists every key once (keys only, a page at a time: about 100 bytes
 * a key from CouchDB, one billed read a key on Firestore) and reads only its own documents, by key.
 */
import type { Shard } from '../../types.js';
import { stableHash } from '../../util/stable-hash.js';

/** The shard that reads `key`: what every shard computes alike (and pipeline/shards.ts's shardOfId for an `_id`). */
export function shardOfKey(key: string, count: number): number {
  return stableHash(key) % count;
}

/** One page of the store's keys: this shard's among them, and the page's last key (where to go on from). */
export interface OwnedPage {
  keys: string[];
  lastKey: string;
}

/**
 * The keys of shard `shard`, a page at a time, after `start` (a resumed run's last key) or from
 * the first. `keysAfter(key)` answers the store's next page of keys after `key` (from the first
 * when undefined), in the store's order; an empty page ends. The next page is asked for while the
 * caller reads this one's documents, and no further.
 */
export async function* ownedPages(shard: Shard, keysAfter: (key: string | undefined) => Promise<string[]>, start?: string): AsyncGenerator<OwnedPage> {
  let next: Promise<string[]> | undefined = keysAfter(start);
  while (next) {
    const keys = await next;
    const lastKey = keys.at(-1);
    if (lastKey === undefined) return;
    next = keysAfter(lastKey);
    // Rejections are seen when it is awaited; this only keeps an abandoned one from being unhandled.
    next.catch(() => {});
    yield { keys: keys.filter((key) => shardOfKey(key, shard.count) === shard.index), lastKey };
  }
}
