/**
 * A shard's share of a store that lists its keys (CouchDB, Firestore): every key in exactly one
 * share, shares even for any ids (a long common prefix included), stable while keys come and go.
 */
import { describe, expect, test } from 'vitest';
import { shardOfId } from '../src/pipeline/shards.js';
import { ownedPages, shardOfKey } from '../src/stores/common/key-shares.js';
import { expectExactShares, gofannonIds } from './shard-ids.js';

/**
 * A store listing `keys` in UTF-8 order, 50 at a time (counted); `change` runs after each answer,
 * to create and delete keys while a shard walks.
 */
function store(keys: string[], change: (held: Set<string>) => void = () => {}) {
  const held = new Set(keys);
  const asked = { pages: 0 };
  const keysAfter = async (after: string | undefined) => {
    asked.pages++;
    const all = [...held].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const at = after === undefined ? 0 : all.findIndex((k) => Buffer.compare(Buffer.from(k), Buffer.from(after)) > 0);
    const answer = at < 0 ? [] : all.slice(at, at + 50);
    change(held);
    return answer;
  };
  return { held, asked, keysAfter };
}

/** What shard `index` of `count` reads: its keys of each page that the store still holds when it reads them. */
async function share(keys: string[], index: number, count: number, start?: string, change?: (held: Set<string>) => void): Promise<string[]> {
  const s = store(keys, change);
  const read: string[] = [];
  for await (const page of ownedPages({ index, count }, s.keysAfter, start)) read.push(...page.keys.filter((k) => s.held.has(k)));
  return read;
}

describe('key shares', () => {
  for (const count of [1, 3, 4, 20]) {
    test(`${count} shards read every key once, awkward keys included`, async () => {
      const keys = [...gofannonIds(400), 'a', '\u{1F600}x', '\uFFFFz', '_design/app', 'ä', 'a\u0000'];
      const shares = await Promise.all(Array.from({ length: count }, (_, i) => share(keys, i, count)));
      expectExactShares(shares, keys);
      shares.forEach((keysOfShard, index) => keysOfShard.forEach((k) => expect(shardOfKey(k, count)).toBe(index)));
    });
  }

  test('a key is in the shard the hash split puts its _id in: a store\'s shard and a file\'s hold the same documents', () => {
    for (const id of [...gofannonIds(300), 'ä', '\u{1F600}']) for (const count of [2, 3, 4, 7]) expect(shardOfKey(id, count)).toBe(shardOfId(id, count));
  });

  test('shares are even (within 15% of the mean at 4 shards), also for ids with a long common prefix', async () => {
    const oneUser = Array.from({ length: 1000 }, (_, i) => `user-0000000000000001:notes:${Buffer.from(`key-${i}`).toString('base64url')}`);
    const googleIds = Array.from({ length: 1000 }, (_, i) => `10${String(7691503500061507 + i * 7919)}`);
    for (const keys of [gofannonIds(2000), oneUser, googleIds]) {
      const sizes = (await Promise.all([0, 1, 2, 3].map((i) => share(keys, i, 4)))).map((s) => s.length);
      for (const size of sizes) expect(Math.abs(size - keys.length / 4)).toBeLessThan((keys.length / 4) * 0.15);
    }
  });

  test('keys created and deleted while each shard walks: every key present throughout is read once, none twice', async () => {
    const stay = gofannonIds(300);
    const going = gofannonIds(100);
    const shares = await Promise.all(
      [0, 1, 2, 3].map((i) =>
        share([...stay, ...going], i, 4, undefined, (held) => {
          for (const id of gofannonIds(5)) held.add(id);
          const gone = going.find((id) => held.has(id));
          if (gone) held.delete(gone);
        }),
      ),
    );
    const seen = shares.flat();
    for (const key of stay) expect(seen.filter((k) => k === key)).toHaveLength(1);
    expect(new Set(seen).size).toBe(seen.length);
  });

  test('a shard resumed after a page reads the rest of its share exactly', async () => {
    const keys = gofannonIds(300);
    const s = store(keys);
    const pages = [];
    for await (const page of ownedPages({ index: 1, count: 3 }, s.keysAfter)) pages.push(page);
    const rest = await share(keys, 1, 3, pages[2]!.lastKey);
    expect([...pages.slice(0, 3).flatMap((p) => p.keys), ...rest]).toEqual(pages.flatMap((p) => p.keys));
  });

  test('a shard lists each key once: one request per page, and the next asked for while this one is read', async () => {
    const keys = gofannonIds(1000);
    const s = store(keys);
    const pages = ownedPages({ index: 0, count: 4 }, s.keysAfter)[Symbol.asyncIterator]();
    await pages.next();
    expect(s.asked.pages).toBe(2);
    while (!(await pages.next()).done);
    // 20 pages of 50, and the empty answer that ends.
    expect(s.asked.pages).toBe(21);
  });
});
