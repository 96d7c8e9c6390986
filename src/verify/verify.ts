/**
 * `verify`: compares a source (after the migration's transforms) with a target, document by
 * document, and names every missing, changed and extra `_id`.
 *
 * Streamed for collections larger than memory: both sides are reduced to (collection, _id, digest)
 * lines and spread over bucket files on disk by a hash of the key; each bucket pair is then
 * compared in memory. Memory holds one bucket of the source side at a time (1/64 of the keys).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { usageError } from '../errors.js';
import { openPrivate } from '../util/private-file.js';
import { keepsData, openSource } from '../registry.js';
import { sharedSignal } from '../pipeline/signals.js';
import { defaultTransforms, loadTransforms, type NamedTransform, type TransformSpec } from '../transforms/index.js';
import stripCouchMeta from '../transforms/strip-couch-meta.js';
import { checkChosenRead, selectCollections } from '../pipeline/collections.js';
import { prepareDocuments } from '../pipeline/prepare.js';
import { adapterOptions } from '../pipeline/store-options.js';
import type { AdapterOptions, Doc, Progress, Source, StoreOptions } from '../types.js';
import { ProgressReporter } from '../pipeline/progress-reporter.js';
import { RunStats } from '../pipeline/stats.js';
import { checkOptions, isBoolean, isFunction, isNames, isSignal, isSource, isString, isTransforms, type OptionChecks, storeOptionChecks } from '../pipeline/option-checks.js';
import { canonical } from './canonical.js';

const bucketCount = 64;

const targetTransforms: NamedTransform[] = [{ name: 'strip-couch-meta', apply: stripCouchMeta }];

export interface VerifyOptions extends StoreOptions {
  from: string | Source;
  /** The target, read back as a source. */
  to: string | Source;
  collections?: string[];
  transforms?: TransformSpec[];
  noDefaultTransforms?: boolean;
  signal?: AbortSignal;
  cwd?: string;
  /** Called for every difference as it is found. */
  onDifference?: (difference: Difference) => void;
  /**
   * Called as each side is read (at most every 200 ms) and once at the end, as migrate reports:
   * a source collection under its name, a target collection as `<name> (target)`.
   */
  onProgress?: (progress: Progress) => void;
}

/** What each option takes, checked for JavaScript callers (see pipeline/option-checks.ts). */
const verifyOptionChecks: OptionChecks<VerifyOptions> = {
  ...storeOptionChecks,
  from: isSource,
  to: isSource,
  collections: isNames,
  transforms: isTransforms,
  noDefaultTransforms: isBoolean,
  signal: isSignal,
  cwd: isString,
  onDifference: isFunction,
  onProgress: isFunction,
};

export type DifferenceKind = 'missing' | 'changed' | 'extra';

export interface Difference {
  kind: DifferenceKind;
  collection: string;
  _id: string;
}

export interface CollectionComparison {
  source: number;
  target: number;
  matched: number;
  missing: number;
  changed: number;
  extra: number;
}

export interface VerifyReport {
  identical: boolean;
  source: string;
  target: string;
  collections: Record<string, CollectionComparison>;
}

/**
 * The bucket of a key: FNV-1a over `collection \0 _id`. It only has to spread keys evenly and the
 * same way on both sides; a cryptographic hash object per document cost as much as the digest.
 */
export function bucketOf(collection: string, id: string): number {
  let hash = 0x811c9dc5;
  const mix = (text: string) => {
    for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  };
  mix(collection);
  mix('\0');
  mix(id);
  return (hash >>> 0) % bucketCount;
}

/** Spreads (collection, _id, digest) lines over bucket files. */
class Buckets {
  private readonly files: Promise<import('node:fs/promises').FileHandle>[] = [];
  private readonly pending: string[][] = Array.from({ length: bucketCount }, () => []);

  constructor(private readonly dir: string, readonly side: 'source' | 'target') {}

  path(bucket: number): string {
    return join(this.dir, `${this.side}-${bucket}.ndjson`);
  }

  async add(collection: string, id: string, digest: string): Promise<void> {
    const bucket = bucketOf(collection, id);
    const lines = this.pending[bucket]!;
    lines.push(JSON.stringify([collection, id, digest]));
    if (lines.length >= 1000) await this.flush(bucket);
  }

  async flush(bucket: number): Promise<void> {
    const lines = this.pending[bucket]!;
    if (lines.length === 0) return;
    this.pending[bucket] = [];
    this.files[bucket] ??= openPrivate(this.path(bucket), 'w');
    await (await this.files[bucket]!).write(lines.join('\n') + '\n');
  }

  async close(): Promise<void> {
    for (let b = 0; b < bucketCount; b++) await this.flush(b);
    await Promise.all(this.files.filter(Boolean).map(async (f) => (await f).close()));
  }

  has(bucket: number): boolean {
    return this.files[bucket] !== undefined;
  }
}

/** Stands for a target document that could not be read: no digest (base64 of a SHA-1) equals it. */
const unreadableDigest = '(unreadable)';

/** Stands for a change log's tombstone: the document is not in the state the log ends in (see stateOf). */
const deletedDigest = '(deleted)';

function digestOf(doc: Doc): string {
  return createHash('sha1').update(canonical(doc)).digest('base64');
}

/** Reads one side into buckets, counting documents per collection (and for progress, under `label`). */
async function spread(
  source: Source,
  buckets: Buckets,
  counts: Map<string, CollectionComparison>,
  options: { collections?: ReadonlySet<string>; transforms: NamedTransform[]; signal: AbortSignal; targetLabel: string; progress: ProgressReporter; read: RunStats },
): Promise<void> {
  const label = (collection: string) => (buckets.side === 'source' ? collection : `${collection} (target)`);
  for await (const chunk of source.read({ collections: options.collections, signal: options.signal })) {
    const stats = counts.get(chunk.collection) ?? { source: 0, target: 0, matched: 0, missing: 0, changed: 0, extra: 0 };
    counts.set(chunk.collection, stats);
    if (options.progress.current !== label(chunk.collection)) await options.progress.enter(chunk.collection, label(chunk.collection));
    const read = options.read.of(label(chunk.collection));
    // What a migration would refuse is not compared: the dead letters of that run account for it.
    // A target document that cannot be read (nested too deep, not valid UTF-8) is another matter:
    // when it has an _id, it differs from whatever the source has, never passes unseen.
    const refuse = (id: unknown): Promise<void> | undefined => {
      read.failed++;
      if (buckets.side === 'source' || typeof id !== 'string') return undefined;
      stats.target++;
      return buckets.add(chunk.collection, id, unreadableDigest);
    };
    for (const entry of chunk.refused ?? []) {
      read.read++;
      await refuse((entry.doc as { _id?: unknown } | null)?._id);
    }
    await prepareDocuments(chunk.docs, {
      transforms: options.transforms,
      settled: chunk.settled,
      context: { collection: chunk.collection, source: source.label, target: options.targetLabel },
      count: (what) => void read[what]++,
      accept: (doc) => {
        stats[buckets.side]++;
        read.written++;
        return buckets.add(chunk.collection, doc._id as string, digestOf(doc));
      },
      reject: (doc) => refuse((doc as { _id?: unknown } | null)?._id),
    });
    for (const id of chunk.deletes ?? []) await buckets.add(chunk.collection, id, deletedDigest);
    options.progress.report(false);
  }
}

async function* lines(path: string): AsyncIterable<[string, string, string]> {
  for await (const line of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) {
    if (line) yield JSON.parse(line) as [string, string, string];
  }
}

/**
 * One side's bucket as the state it ends in: the last line of an `_id` wins, as the later write of
 * a duplicate does in a target, and a change log's tombstone removes it. A document a later line
 * replaced or removed is no longer counted on its side.
 */
async function stateOf(buckets: Buckets, bucket: number, stat: (collection: string) => CollectionComparison): Promise<Map<string, [string, string, string]>> {
  const state = new Map<string, [string, string, string]>();
  if (!buckets.has(bucket)) return state;
  for await (const entry of lines(buckets.path(bucket))) {
    const key = `${entry[0]}\0${entry[1]}`;
    if (state.has(key)) stat(entry[0])[buckets.side]--;
    if (entry[2] === deletedDigest) state.delete(key);
    else state.set(key, entry);
  }
  return state;
}

/** Compares both sides bucket by bucket. */
async function compare(source: Buckets, target: Buckets, counts: Map<string, CollectionComparison>, report: (d: Difference) => void): Promise<void> {
  const stat = (collection: string) => counts.get(collection)!;
  for (let b = 0; b < bucketCount; b++) {
    const expected = await stateOf(source, b, stat);
    const held = await stateOf(target, b, stat);
    for (const [key, [collection, id, digest]] of held) {
      const want = expected.get(key);
      if (!want) {
        stat(collection).extra++;
        report({ kind: 'extra', collection, _id: id });
        continue;
      }
      expected.delete(key);
      if (want[2] === digest) stat(collection).matched++;
      else {
        stat(collection).changed++;
        report({ kind: 'changed', collection, _id: id });
      }
    }
    for (const [collection, id] of expected.values()) {
      stat(collection).missing++;
      report({ kind: 'missing', collection, _id: id });
    }
  }
}

export async function verify(options: VerifyOptions): Promise<VerifyReport> {
  checkOptions('verify', options, verifyOptionChecks);
  const transforms = await loadTransforms([...(options.noDefaultTransforms ? [] : defaultTransforms), ...(options.transforms ?? [])], options.cwd);
  const adapter = adapterOptions(options);
  const source = typeof options.from === 'string' ? await openSource(options.from, adapter) : options.from;
  let target: Source;
  try {
    target = typeof options.to === 'string' ? await openTarget(options.to, adapter) : options.to;
  } catch (error) {
    await source.close();
    throw error;
  }
  const dir = await mkdtemp(join(tmpdir(), 'gofannon-verify-'));
  const signal = sharedSignal(options.signal);
  try {
    // Compare the same collections on both sides, chosen from the source as a run chooses them.
    const selection = await selectCollections(source, options.collections?.length ? options.collections : undefined, adapter.warn);
    const chosen = selection.chosen ? new Set(selection.chosen) : undefined;
    const counts = new Map<string, CollectionComparison>();
    const read = new RunStats();
    const started = Date.now();
    const sourceBuckets = new Buckets(dir, 'source');
    const sourceProgress = new ProgressReporter(options.onProgress, source, read, started);
    await spread(source, sourceBuckets, counts, { collections: chosen, transforms, signal, targetLabel: target.label, progress: sourceProgress, read });
    await sourceBuckets.close();
    await checkChosenRead(source, selection, new Set(counts.keys()));
    const targetBuckets = new Buckets(dir, 'target');
    const targetProgress = new ProgressReporter(options.onProgress, target, read, started);
    // CouchDB's `_rev` and `_attachments` are the target's bookkeeping, not data to compare, unless
    // the migration kept them as data (--keep-couch-meta): then they are compared like any field.
    const targetSide = options.noDefaultTransforms ? [] : targetTransforms;
    await spread(target, targetBuckets, counts, { collections: chosen ?? new Set(counts.keys()), transforms: targetSide, signal, targetLabel: target.label, progress: targetProgress, read });
    await targetBuckets.close();
    targetProgress.report(true);
    await compare(sourceBuckets, targetBuckets, counts, options.onDifference ?? (() => {}));
    const collections = Object.fromEntries([...counts].sort(([a], [b]) => a.localeCompare(b)));
    const identical = Object.values(collections).every((c) => c.missing === 0 && c.changed === 0 && c.extra === 0);
    return { identical, source: source.label, target: target.label, collections };
  } finally {
    await rm(dir, { recursive: true, force: true });
    await Promise.allSettled([source.close(), target.close()]);
  }
}

/**
 * The target of a migration, opened for reading; `null` and stdout cannot be read back. What
 * `--format` and `--collection-name` say of the source file is not said of a file we wrote.
 */
async function openTarget(uri: string, adapter: AdapterOptions): Promise<Source> {
  if (!keepsData(uri)) throw usageError('cannot-verify', `cannot verify against ${uri}: it keeps nothing to read back`);
  return openSource(uri, { ...adapter, format: undefined, collectionName: undefined });
}
