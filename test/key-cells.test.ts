/**
 * The key ranges a shard of a key-ordered store reads (CouchDB, Firestore): exact in both key
 * orders stores use, whatever the keys, and stable when keys appear or vanish between shards' walks.
 */
import { describe, expect, test } from 'vitest';
import { cellWidth, ownedParts, shardOfKey, type From, type KeyRange } from '../src/stores/common/key-cells.js';
import { expectExactShares, gofannonIds } from './shard-ids.js';

type Order = (a: string, b: string) => number;
const utf16: Order = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
const utf8: Order = (a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

function inRange(key: string, range: KeyRange, order: Order): boolean {
  const lower = range.from ? order(key, range.from.key) : 1;
  if (lower < 0 || (lower === 0 && range.from!.after)) return false;
  if (!range.until) return true;
  const upper = order(key, range.until.key);
  return upper < 0 || (upper === 0 && range.until.through);
}

/**
 * A store holding `keys` in `order`, answering the walk's one question 20 keys at a time (counted);
 * `change` runs after each answer, to create and delete keys while the walk goes on.
 */
function store(keys: string[], order: Order, change: (held: Set<string>) => void = () => {}) {
  const held = new Set(keys);
  const sorted = () => [...held].sort(order);
  const asked = { probes: 0 };
  const keysFrom = async (from: From | undefined) => {
    asked.probes++;
    const all = sorted();
    const at = all.findIndex((k) => !from || order(k, from.key) > 0 || (order(k, from.key) === 0 && !from.after));
    const answer = at < 0 ? [] : all.slice(at, at + 20);
    change(held);
    return answer;
  };
  return { held, sorted, asked, keysFrom };
}

/** What shard `index` of `count` reads: each part read, as the store holds it then, when it is produced. */
async function share(keys: string[], index: number, count: number, order: Order, start?: From, change?: (held: Set<string>) => void): Promise<string[]> {
  const s = store(keys, order, change);
  const read: string[] = [];
  for await (const part of ownedParts({ index, count }, s.keysFrom, start)) {
    read.push(...('keys' in part ? part.keys.filter((k) => s.held.has(k)) : s.sorted().filter((k) => inRange(k, part.range, order))));
  }
  return read;
}

const awkward = ['a', 'ab', 'abc', 'ab\u{1F600}', 'a\uFFFF', 'a\u{10000}', 'a\uD7FF', 'a\uE000b', '\uFFFFz', '\u{1F600}x', '\uD000', '_design/x', '', 'b', 'Ab', 'ä', 'a\u0000', 'z\uCFFF', 'z\uCFFFq', 'z\uD000'];

describe('key cells', () => {
  for (const [name, order] of [['UTF-16', utf16], ['UTF-8', utf8]] as const) {
    for (const count of [1, 3, 4, 20]) {
      test(`${count} shards read every key once in ${name} order, awkward keys included`, async () => {
        const keys = [...gofannonIds(300), ...awkward];
        const shares = await Promise.all(Array.from({ length: count }, (_, i) => share(keys, i, count, order)));
        expectExactShares(shares, keys);
        // Each key is in the share its cell hashes to.
        shares.forEach((keysOfShard, index) => keysOfShard.forEach((k) => expect(shardOfKey(k, count)).toBe(index)));
      });
    }
  }

  test('shares are even for UUIDs, e-mails and data-store keys (within 35% of the mean at 4 shards)', async () => {
    const keys = gofannonIds(3000);
    const sizes = (await Promise.all([0, 1, 2, 3].map((i) => share(keys, i, 4, utf8)))).map((s) => s.length);
    for (const size of sizes) expect(Math.abs(size - 750)).toBeLessThan(750 * 0.35);
  });

  test('keys created and deleted while shards walk at different moments: every key present throughout is read once', async () => {
    const before = gofannonIds(400);
    const stay = before.slice(0, 300);
    const after = [...stay, ...gofannonIds(200)];
    // Shards 0 and 2 walk the old data, 1 and 3 the new: plans taken from the data would now disagree.
    const shares = await Promise.all([0, 1, 2, 3].map((i) => share(i % 2 ? after : before, i, 4, utf8)));
    const seen = shares.flat();
    for (const key of stay) expect(seen.filter((k) => k === key)).toHaveLength(1);
  });

  test('keys created and deleted while each shard walks: every key present throughout is read once', async () => {
    const stay = gofannonIds(300);
    const going = gofannonIds(100);
    for (const order of [utf8, utf16]) {
      const shares = await Promise.all(
        [0, 1, 2, 3].map((i) =>
          share([...stay, ...going], i, 4, order, undefined, (held) => {
            for (const id of gofannonIds(5)) held.add(id);
            const gone = going.find((id) => held.has(id));
            if (gone) held.delete(gone);
          }),
        ),
      );
      const seen = shares.flat();
      for (const key of stay) expect(seen.filter((k) => k === key)).toHaveLength(1);
      expect(new Set(seen).size).toBe(seen.length);
    }
  });

  test('a shard resumed after its last key reads the rest of its share exactly', async () => {
    const keys = gofannonIds(300);
    const whole = await share(keys, 1, 3, utf8);
    const cut = 40;
    const rest = await share(keys, 1, 3, utf8, { key: whole[cut - 1]!, after: true });
    expect([...whole.slice(0, cut), ...rest]).toEqual(whole);
  });

  test('a shard asks at most once per non-empty cell, and one answer passes many small cells', async () => {
    const keys = gofannonIds(3000);
    const s = store(keys, utf8);
    for await (const _ of ownedParts({ index: 0, count: 4 }, s.keysFrom)) void _;
    const cells = new Set(keys.map((k) => k.slice(0, cellWidth(4)))).size;
    expect(s.asked.probes).toBeLessThanOrEqual(cells + 1);
    expect(s.asked.probes).toBeLessThan(cells / 3);
  });

  test('a large cell not owned is jumped over, not listed', async () => {
    const keys = Array.from({ length: 2000 }, (_, i) => `user-0001:notes:${i}`);
    const foreign = [0, 1, 2].find((i) => i !== shardOfKey(keys[0]!, 3))!;
    const s = store(keys, utf8);
    for await (const _ of ownedParts({ index: foreign, count: 3 }, s.keysFrom)) void _;
    expect(s.asked.probes).toBe(2);
  });

  test('the width grows with the shard count so that each shard has cells enough', () => {
    expect([1, 16, 17, 256, 257].map(cellWidth)).toEqual([3, 3, 4, 4, 5]);
  });
});
