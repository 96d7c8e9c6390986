/**
 * The file readers against hostile bytes, fuzz-style: random bytes, random truncations, random
 * nesting and stray non-UTF-8 bytes in valid exports, JSON and NDJSON, gzipped or not. A seeded
 * PRNG makes every failure reproducible (the case's seed is in its message); the count is bounded
 * so the file runs in seconds. Each run must end as a report or one typed, one-line error with its
 * exit code, within a time limit, and nothing written may differ from the input unless it was
 * dead-lettered.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { isEtlError } from '../src/errors.js';
import { maxDepth } from '../src/formats/limits.js';
import { stringifyExact } from '../src/formats/serialize.js';
import { migrate } from '../src/pipeline.js';
import { memoryStore } from '../src/stores/memory/store.js';
import type { Doc, RunReport } from '../src/types.js';

const dir = mkdtempSync(join(tmpdir(), 'fuzz-'));
const bin = new URL('../bin/gofannon-etl.js', import.meta.url).pathname;

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Random = ReturnType<typeof prng>;
const int = (r: Random, n: number) => Math.floor(r() * n);
const pick = <T>(r: Random, items: readonly T[]): T => items[int(r, items.length)]!;

const words = ['agent', 'résumé', 'Użytkownik', '🙂', 'naïve', 'x', '', 'tab\there', 'quote"s', 'back\\slash'];

function randomDoc(r: Random, id: number): Doc {
  const doc: Doc = { _id: `d${id}` };
  for (let f = int(r, 5); f > 0; f--) {
    const kind = int(r, 5);
    doc[`f${f}`] = kind === 0 ? pick(r, words) : kind === 1 ? int(r, 1e6) : kind === 2 ? r() > 0.5 : kind === 3 ? [pick(r, words), int(r, 100)] : { k: pick(r, words) };
  }
  return doc;
}

function randomData(r: Random): Record<string, Doc[]> {
  const data: Record<string, Doc[]> = {};
  let id = 0;
  for (const collection of ['agents', 'users', 'sessions'].slice(0, 1 + int(r, 3))) data[collection] = Array.from({ length: int(r, 6) }, () => randomDoc(r, id++));
  return data;
}

function encode(data: Record<string, Doc[]>, format: 'json' | 'ndjson', pretty: boolean): string {
  if (format === 'json') return stringifyExact({ metadata: { provider: 'fuzz', collections: Object.keys(data) }, data }, pretty ? 2 : undefined);
  return Object.entries(data)
    .flatMap(([collection, docs]) => [JSON.stringify({ collection }), ...docs.map((doc) => stringifyExact({ collection, doc }))])
    .join('\n');
}

const depthOf = (value: unknown): number =>
  value !== null && typeof value === 'object' ? 1 + Math.max(0, ...Object.values(value as object).map(depthOf)) : 0;

interface Case {
  name: string;
  mutation: string;
  bytes: Buffer;
  format: 'json' | 'ndjson';
  gzip: boolean;
  /** The documents of the input, by _id, as they must come out if they come out at all. */
  expected: Map<string, Doc>;
  /** What must happen: `ok` (every document written), `dead` (these _ids dead-lettered, the rest written), `any` (no promise beyond a clean end). */
  outcome: { kind: 'ok' } | { kind: 'dead'; ids: Map<string, string> } | { kind: 'any' };
}

/** One case from a seed: a valid export, then one hostile change. */
function makeCase(seed: number): Case {
  const r = prng(seed);
  const format = pick(r, ['json', 'ndjson'] as const);
  const gzip = r() < 0.3;
  const data = randomData(r);
  const all = Object.values(data).flat();
  const mutation = pick(r, ['random-bytes', 'truncate', 'nest', 'not-utf8'] as const);
  const expected = new Map(all.map((doc) => [doc._id as string, structuredClone(doc)]));
  let outcome: Case['outcome'] = { kind: 'any' };
  let bytes: Buffer;
  if (mutation === 'random-bytes') {
    bytes = Buffer.from(Array.from({ length: int(r, 300) }, () => int(r, 256)));
  } else if (mutation === 'nest' && all.length > 0) {
    const dead = new Map<string, string>();
    for (const doc of all) {
      if (r() < 0.5) continue;
      // Depths around the limit, and far past it (not so far that pretty-printing's indentation,
      // quadratic in depth, makes the document larger than maxDocumentBytes).
      const depth = pick(r, [1, maxDepth - 2, maxDepth - 1, maxDepth, maxDepth + 1, 1500]);
      let value: Doc['x'] = 'core';
      for (let i = 0; i < depth; i++) value = r() < 0.5 ? [value] : { n: value };
      doc.nested = value;
      if (depthOf(doc) > maxDepth) dead.set(doc._id as string, `nested deeper than ${maxDepth} levels`);
      else expected.set(doc._id as string, doc);
    }
    bytes = Buffer.from(encode(data, format, r() < 0.5));
    outcome = dead.size ? { kind: 'dead', ids: dead } : { kind: 'ok' };
  } else if (mutation === 'not-utf8' && all.length > 0) {
    const victim = pick(r, all);
    victim.bad = 'abcdef';
    const text = Buffer.from(encode(data, format, r() < 0.5));
    const at = text.indexOf('"abcdef"') + 1 + int(r, 6);
    text[at] = 0x80 + int(r, 0x80);
    bytes = text;
    expected.delete(victim._id as string);
    // The offset is in the decompressed input: gzip changes nothing there.
    outcome = { kind: 'dead', ids: new Map([[victim._id as string, `not valid UTF-8 at byte ${at}`]]) };
  } else {
    const text = Buffer.from(encode(data, format, r() < 0.5));
    bytes = text.subarray(0, int(r, text.length));
  }
  if (gzip) bytes = gzipSync(bytes);
  // A truncated gzip stream is its own kind of damage.
  if (gzip && mutation === 'truncate' && r() < 0.5) bytes = bytes.subarray(0, int(r, bytes.length));
  return { name: `seed ${seed}: ${mutation} ${format}${gzip ? ' gzip' : ''}`, mutation, bytes, format, gzip, expected, outcome };
}

const timeLimitMs = 10_000;

async function runCase(c: Case, seed: number) {
  const path = join(dir, `case-${seed}.${c.format}${c.gzip ? '.gz' : ''}`);
  writeFileSync(path, c.bytes);
  const deadLetter = join(dir, `case-${seed}.dead.ndjson`);
  const target = `fuzz-${seed}`;
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${c.name}: no answer within ${timeLimitMs} ms`)), timeLimitMs)));
  let report: RunReport | undefined;
  let error: unknown;
  try {
    report = await Promise.race([migrate({ from: `file:${path}`, to: `memory:${target}`, deadLetter, warn: () => {} }), hang]);
  } catch (caught) {
    error = caught;
  } finally {
    clearTimeout(timer);
  }
  const written = [...memoryStore(target).values()].flatMap((docs) => [...docs.values()]);
  const dead = existsSync(deadLetter)
    ? readFileSync(deadLetter, 'utf8')
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { _id?: string; reason: string })
    : [];
  return { report, error, written, dead };
}

const seeds = Array.from({ length: 240 }, (_, i) => 1000 + i);

describe('readers under fuzzing', () => {
  test(`${seeds.length} seeded cases in-process: a clean end, the right code, nothing changed quietly`, async () => {
    const kinds = new Set<string>();
    for (const seed of seeds) {
      const c = makeCase(seed);
      kinds.add(c.mutation);
      const { report, error, written, dead } = await runCase(c, seed);
      if (error !== undefined) {
        // Only typed errors, one line each, fatal (malformed input) or usage (e.g. nothing to read).
        expect(isEtlError(error), `${c.name}: ${String((error as Error)?.stack)}`).toBe(true);
        expect((error as Error).message, c.name).not.toContain('\n');
        expect(['usage', 'fatal'], c.name).toContain((error as { kind: string }).kind);
      }
      // Never a document changed without a dead-letter entry.
      for (const doc of written) expect(doc, c.name).toEqual(c.expected.get(doc._id as string));
      if (c.outcome.kind === 'ok') {
        expect(error, c.name).toBeUndefined();
        expect(report!.ok, c.name).toBe(true);
        expect(written.length, c.name).toBe(c.expected.size);
      } else if (c.outcome.kind === 'dead') {
        expect(error, c.name).toBeUndefined();
        expect(report!.total.failed, c.name).toBe(c.outcome.ids.size);
        expect(new Map(dead.map((d) => [d._id!, d.reason])), c.name).toEqual(c.outcome.ids);
        expect(written.length, c.name).toBe(c.expected.size - [...c.outcome.ids.keys()].filter((id) => c.expected.has(id)).length);
      }
    }
    // Every kind of damage was tried.
    expect([...kinds].sort()).toEqual(['nest', 'not-utf8', 'random-bytes', 'truncate']);
  }, 120_000);

  test('the first case of each damage and format through the built CLI: one line, exit code, no stack trace', () => {
    const chosen = new Map<string, Case>();
    for (const seed of seeds) {
      const c = makeCase(seed);
      if (!chosen.has(`${c.mutation} ${c.format}`)) chosen.set(`${c.mutation} ${c.format}`, c);
    }
    expect(chosen.size).toBe(8);
    for (const [seed, c] of [...chosen.values()].entries()) {
      const path = join(dir, `cli-${seed}.${c.format}${c.gzip ? '.gz' : ''}`);
      writeFileSync(path, c.bytes);
      const result = spawnSync(process.execPath, [bin, '--from', `file:${path}`, '--to', 'null'], { encoding: 'utf8', timeout: timeLimitMs, env: { ...process.env, CI: 'true' } });
      expect(result.signal, c.name).toBeNull();
      expect([0, 1, 2, 3], c.name).toContain(result.status);
      expect(result.stderr, c.name).not.toMatch(/\n\s+at |RangeError|TypeError/);
      if (result.status === 3 || result.status === 2) expect(result.stderr.trim().split('\n'), c.name).toHaveLength(1);
      if (c.outcome.kind === 'dead') expect(result.status, c.name).toBe(1);
      if (c.outcome.kind === 'ok') expect(result.status, c.name).toBe(0);
    }
  }, 60_000);
});
