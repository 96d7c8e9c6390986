import { describe, expect, test } from 'vitest';
import { ExactNumber } from '../src/formats/exact-number.js';
import { memoryStore } from '../src/stores/memory/store.js';
import { migrate } from '../src/pipeline.js';
import { canonicalNumber } from '../src/verify/canonical.js';
import { bucketOf, verify, type Difference } from '../src/verify/verify.js';
import { uniquePrefix } from './corpus.js';

function seed(name: string, docs: Record<string, Record<string, unknown>[]>) {
  for (const [collection, list] of Object.entries(docs)) {
    memoryStore(name).set(collection, new Map(list.map((d) => [d._id as string, d as never])));
  }
}

describe('verify', () => {
  test('a migrated copy is identical', async () => {
    const from = uniquePrefix();
    const to = uniquePrefix();
    seed(from, { agents: Array.from({ length: 500 }, (_, i) => ({ _id: `a${i}`, _rev: '1-x', n: i, big: new ExactNumber('9007199254740993') })), users: [{ _id: 'u' }] });
    await migrate({ from: `memory:${from}`, to: `memory:${to}` });
    const report = await verify({ from: `memory:${from}`, to: `memory:${to}` });
    expect(report.identical).toBe(true);
    expect(report.collections.agents).toEqual({ source: 500, target: 500, matched: 500, missing: 0, changed: 0, extra: 0 });
  });

  test('names every missing, changed and extra _id', async () => {
    const from = uniquePrefix();
    const to = uniquePrefix();
    seed(from, { agents: [{ _id: 'same', v: 1 }, { _id: 'gone', v: 1 }, { _id: 'edited', v: 1, nested: { a: [1, 2] } }] });
    seed(to, { agents: [{ _id: 'same', v: 1 }, { _id: 'edited', v: 1, nested: { a: [2, 1] } }, { _id: 'new', v: 1 }] });
    const differences: Difference[] = [];
    const report = await verify({ from: `memory:${from}`, to: `memory:${to}`, onDifference: (d) => differences.push(d) });
    expect(report.identical).toBe(false);
    expect(report.collections.agents).toEqual({ source: 3, target: 3, matched: 1, missing: 1, changed: 1, extra: 1 });
    expect(differences.sort((a, b) => a.kind.localeCompare(b.kind))).toEqual([
      { kind: 'changed', collection: 'agents', _id: 'edited' },
      { kind: 'extra', collection: 'agents', _id: 'new' },
      { kind: 'missing', collection: 'agents', _id: 'gone' },
    ]);
  });

  test('compares after the migration transforms, and numbers by value, keys in any order', async () => {
    const from = uniquePrefix();
    const to = uniquePrefix();
    seed(from, { agents: [{ _id: 'a', _rev: '3-abc', price: new ExactNumber('1.50'), b: 1, a: 2 }] });
    seed(to, { agents: [{ a: 2, _id: 'a', b: 1, price: 1.5 }] });
    expect((await verify({ from: `memory:${from}`, to: `memory:${to}` })).identical).toBe(true);
    expect((await verify({ from: `memory:${from}`, to: `memory:${to}`, noDefaultTransforms: true })).identical).toBe(false);
  });

  test('a target collection that does not exist counts every document missing', async () => {
    const from = uniquePrefix();
    seed(from, { tickets: [{ _id: 't1' }, { _id: 't2' }] });
    const report = await verify({ from: `memory:${from}`, to: `memory:${uniquePrefix()}` });
    expect(report.collections.tickets).toMatchObject({ source: 2, target: 0, missing: 2 });
  });

  test('refuses a target that keeps nothing', async () => {
    await expect(verify({ from: 'memory', to: 'null' })).rejects.toMatchObject({ kind: 'usage' });
  });

  test('keys spread evenly over the buckets, so memory holds about 1/64 of them at a time', () => {
    const counts = new Array(64).fill(0);
    for (let i = 0; i < 64_000; i++) counts[bucketOf('agents', `agent-${i}`)]++;
    for (let i = 0; i < 64_000; i++) counts[bucketOf('users', `${i.toString(16)}-4f8f-9529`)]++;
    expect(Math.min(...counts)).toBeGreaterThan(2000 * 0.85);
    expect(Math.max(...counts)).toBeLessThan(2000 * 1.15);
  });

  test('canonical numbers are one spelling per value', () => {
    expect(canonicalNumber('1.50')).toBe(canonicalNumber('1.5'));
    expect(canonicalNumber('1e2')).toBe(canonicalNumber('100'));
    expect(canonicalNumber('-0.0')).toBe('0');
    expect(canonicalNumber('9007199254740993')).not.toBe(canonicalNumber('9007199254740992'));
    expect(canonicalNumber('0.10000000000000000001')).not.toBe(canonicalNumber('0.1'));
  });
});
