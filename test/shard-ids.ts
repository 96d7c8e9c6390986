import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';

/**
 * Ids as Gofannon makes them, for shard tests: UUIDs (agents, demos, tickets), e-mail addresses
 * (users signed in by e-mail), `userId:namespace:base64url(key)` (agent_data_store).
 */
export function gofannonIds(count: number): string[] {
  // Names from syllables: as many different beginnings as a real user base has.
  const pick = (letters: string) => letters[Math.floor(Math.random() * letters.length)]!;
  const name = () => pick('bcdfghjklmnprstvwyz') + pick('aeiou') + pick('bcdfghjklmnprstvwyz') + pick('aeiou');
  const ids = new Set<string>();
  for (let i = 0; ids.size < count; i++) {
    const kind = i % 3;
    if (kind === 0) ids.add(randomUUID());
    else if (kind === 1) ids.add(`${name()}.${name()}${i}@example.com`);
    else ids.add(`${randomUUID().slice(0, 8)}:notes:${Buffer.from(`key-${i}`).toString('base64url')}`);
  }
  return [...ids];
}

/** Every id in exactly one share, no share empty: what COUNT shards together must read. */
export function expectExactShares(shares: string[][], all: readonly string[]): void {
  const seen = new Map<string, number>();
  for (const share of shares) for (const id of share) seen.set(id, (seen.get(id) ?? 0) + 1);
  expect([...seen.entries()].filter(([, n]) => n > 1).map(([id]) => id)).toEqual([]);
  expect([...seen.keys()].sort()).toEqual([...all].sort());
  for (const share of shares) expect(share.length).toBeGreaterThan(0);
}
