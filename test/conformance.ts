/**
 * One suite, run against every adapter on its real server (the unstorage way): what a Source and a
 * Sink must do regardless of the store behind them.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { memoryStore } from '../src/stores/memory/store.js';
import { migrate } from '../src/pipeline.js';
import type { Doc, OnConflict, Position, Sink, Source, SourceChunk } from '../src/types.js';
import { corpus as fullCorpus, sortById, uniquePrefix } from './corpus.js';

export interface ConformanceOptions {
  /** Opens a sink on the store; `batchSize` and `onConflict` when given. */
  sink(options?: { batchSize?: number; onConflict?: OnConflict }): Promise<Sink>;
  /** Opens a source on the same store; `batchSize` is its page size when given, `warn` hears its lines. */
  source(options?: { batchSize?: number; warn?: (message: string) => void }): Promise<Source>;
  /** The corpus this store must carry exactly (default: the full corpus). */
  corpus?: () => Record<string, Doc[]>;
  /** Maps documents read back before comparing, where the store's documented limits call for it. */
  normalize?: (doc: Doc) => Doc;
  /** The store appends (a file): writing an _id again adds a later version instead of replacing it. */
  appendOnly?: boolean;
  /**
   * What listCollections answers: the collections (default); `unknown` (undefined, as a gzipped
   * file with its metadata at the end does); or `cannot` (undefined, and a missing collection cannot
   * be told from an empty one: the Firestore emulator, which cannot list).
   */
  lists?: 'collections' | 'unknown' | 'cannot';
  /**
   * Documents the store cannot hold, each with what its `check` says. Without them the store
   * claims to hold any JSON document, and must take the ones other stores refuse.
   */
  refuses?: { doc: Doc; reason: RegExp }[];
  /** The sink deletes (`Sink.remove`, for --follow): the remove cases run against it. */
  removes?: boolean;
}

/** Documents some store refuses (size, reserved names, nesting, empty field names). */
function unusualDocs(): Doc[] {
  let deep: Doc[string] = 'bottom';
  for (let i = 0; i < 25; i++) deep = { level: deep };
  return [
    { _id: 'large', blob: 'x'.repeat(500 * 1024) },
    { _id: 'reserved-names', __reserved__: 1, _private: 2, profile: { __meta__: true } },
    { _id: '_leading-underscore', v: 1 },
    { _id: 'deep', deep },
    { _id: 'empty-field-name', map: { '': 'empty' } },
    { _id: 'nested-arrays', list: [[1, [2]], []] },
  ];
}

/** Runs a migration from a memory store seeded with `docs` into `sink`, with a dead-letter file. */
async function migrateInto(sink: Sink, collection: string, docs: Doc[]) {
  const name = `conformance-${collection}`;
  memoryStore(name).set(collection, new Map(docs.map((doc) => [doc._id as string, doc])));
  const deadLetter = join(mkdtempSync(join(tmpdir(), 'etl-conformance-')), 'dead.ndjson');
  const report = await migrate({ from: `memory:${name}`, to: sink, collections: [collection], noDefaultTransforms: true, deadLetter, warn: () => {} });
  memoryStore(name).clear();
  const text = report.deadLetters.count > 0 ? readFileSync(deadLetter, 'utf8') : '';
  const deadLetters = text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { collection: string; _id: string; reason: string });
  return { report, deadLetters };
}

async function readAll(source: Source, collections: string[], resumeFrom?: Position): Promise<SourceChunk[]> {
  const chunks: SourceChunk[] = [];
  const signal = new AbortController().signal;
  for await (const chunk of source.read({ collections: new Set(collections), signal, resumeFrom })) chunks.push(chunk);
  return chunks;
}

function docsOf(chunks: SourceChunk[], collection: string): Doc[] {
  return chunks.filter((c) => c.collection === collection).flatMap((c) => c.docs as Doc[]);
}

async function writeAll(sink: Sink, collection: string, docs: Doc[]): Promise<void> {
  await sink.prepare(collection);
  const signal = new AbortController().signal;
  for (let i = 0; i < docs.length; i += sink.batchSize) {
    const batch = docs.slice(i, i + sink.batchSize);
    const outcomes = await sink.write(collection, batch, signal);
    expect(outcomes).toEqual(batch.map(() => ({ status: 'written' })));
  }
}

/** Writes one batch with a sink of the given `--on-conflict`, and answers its outcomes. */
async function writeWith(options: ConformanceOptions, onConflict: OnConflict, collection: string, docs: Doc[]) {
  const sink = await options.sink({ onConflict });
  await sink.prepare(collection);
  const outcomes = await sink.write(collection, docs, new AbortController().signal);
  await sink.close(true);
  return outcomes;
}

export function describeConformance(name: string, options: ConformanceOptions): void {
  const normalize = (docs: Doc[]) => sortById(options.normalize ? docs.map(options.normalize) : docs);

  describe(`${name} conformance`, () => {
    test('writes the corpus and reads it back exactly', async () => {
      const prefix = uniquePrefix();
      const data = (options.corpus ?? fullCorpus)();
      const sink = await options.sink();
      for (const [collection, docs] of Object.entries(data)) await writeAll(sink, `${prefix}_${collection}`, docs);
      await sink.close(true);
      const source = await options.source();
      const names = Object.keys(data).map((c) => `${prefix}_${c}`);
      const chunks = await readAll(source, names);
      await source.close();
      for (const [collection, docs] of Object.entries(data)) {
        expect(normalize(docsOf(chunks, `${prefix}_${collection}`))).toEqual(sortById(docs));
      }
    });

    test('lists the collections it holds', async () => {
      const prefix = uniquePrefix();
      const sink = await options.sink();
      await writeAll(sink, `${prefix}_listed`, [{ _id: 'a' }]);
      await sink.close(true);
      const source = await options.source();
      const listed = await source.listCollections();
      await source.close();
      // A store that cannot list must say so, never list wrongly.
      const lists = options.lists ?? 'collections';
      if (lists === 'collections') expect(listed).toContain(`${prefix}_listed`);
      else expect(listed).toBeUndefined();
    });

    test(options.appendOnly ? 'keeps a document written again as a later version' : 'overwrites a document written again under the same _id', async () => {
      const collection = `${uniquePrefix()}_again`;
      const sink = await options.sink();
      await writeAll(sink, collection, [{ _id: 'same', v: 1 }, { _id: 'other', v: 1 }]);
      await writeAll(sink, collection, [{ _id: 'same', v: 2 }]);
      await sink.close(true);
      const source = await options.source();
      const docs = docsOf(await readAll(source, [collection]), collection);
      await source.close();
      // An appending store keeps source order, so an import of it still ends with the later version.
      if (options.appendOnly) expect(docs).toEqual([{ _id: 'same', v: 1 }, { _id: 'other', v: 1 }, { _id: 'same', v: 2 }]);
      else expect(normalize(docs)).toEqual([{ _id: 'other', v: 1 }, { _id: 'same', v: 2 }]);
    });

    test('announces an empty collection and reads only the chosen ones', async () => {
      const prefix = uniquePrefix();
      const sink = await options.sink();
      await sink.prepare(`${prefix}_empty`);
      await writeAll(sink, `${prefix}_full`, [{ _id: 'x' }]);
      await writeAll(sink, `${prefix}_other`, [{ _id: 'y' }]);
      await sink.close(true);
      const source = await options.source();
      const chunks = await readAll(source, [`${prefix}_empty`, `${prefix}_full`]);
      await source.close();
      expect(new Set(chunks.map((c) => c.collection))).toEqual(new Set([`${prefix}_empty`, `${prefix}_full`]));
      expect(docsOf(chunks, `${prefix}_empty`)).toEqual([]);
      expect(docsOf(chunks, `${prefix}_full`).map((d) => d._id)).toEqual(['x']);
    });

    test('a chosen collection the store does not hold: nothing is read from it, and a line names it', async () => {
      const prefix = uniquePrefix();
      const sink = await options.sink();
      await writeAll(sink, `${prefix}_present`, [{ _id: 'p' }]);
      await sink.close(true);
      const warnings: string[] = [];
      const source = await options.source({ warn: (line) => warnings.push(line) });
      const chunks = await readAll(source, [`${prefix}_present`, `${prefix}_absent`]);
      await source.close();
      expect(normalize(docsOf(chunks, `${prefix}_present`))).toEqual([{ _id: 'p' }]);
      expect(docsOf(chunks, `${prefix}_absent`)).toEqual([]);
      // A store that cannot list (the Firestore emulator) cannot tell a missing collection from an empty one.
      if ((options.lists ?? 'collections') !== 'cannot') expect(warnings.join('\n')).toContain(`${prefix}_absent`);
    });

    test('resumes after any chunk position without losing a document', async () => {
      const collection = `${uniquePrefix()}_resume`;
      const docs = Array.from({ length: 120 }, (_, i) => ({ _id: `doc-${String(i).padStart(4, '0')}`, n: i }));
      const sink = await options.sink();
      await writeAll(sink, collection, docs);
      await sink.close(true);
      const source = await options.source({ batchSize: 25 });
      const chunks = (await readAll(source, [collection])).filter((c) => c.docs.length > 0);
      expect(chunks.length).toBeGreaterThan(2);
      const cut = Math.floor(chunks.length / 2);
      const before = chunks.slice(0, cut).flatMap((c) => c.docs as Doc[]);
      const position = chunks[cut - 1]!.position;
      expect(position).toBeDefined();
      const after = docsOf(await readAll(source, [collection], JSON.parse(JSON.stringify(position))), collection);
      await source.close();
      const seen = new Set([...before, ...after].map((d) => d._id));
      expect(seen.size).toBe(docs.length);
      // Resuming re-reads at most one chunk's worth (writes by _id are idempotent, so a small overlap is fine).
      expect(before.length + after.length - docs.length).toBeLessThanOrEqual(25);
    });

    test('resumes from a position in a later collection without reading the earlier ones again', async () => {
      const prefix = uniquePrefix();
      const [first, second] = [`${prefix}_a`, `${prefix}_b`];
      const docs = Array.from({ length: 60 }, (_, i) => ({ _id: `doc-${String(i).padStart(4, '0')}`, n: i }));
      const sink = await options.sink();
      await writeAll(sink, first, docs);
      await writeAll(sink, second, docs);
      await sink.close(true);
      const source = await options.source({ batchSize: 20 });
      const chunks = await readAll(source, [first, second]);
      const inSecond = chunks.filter((c) => c.collection === second && c.docs.length > 0);
      expect(inSecond.length).toBeGreaterThan(1);
      const position = JSON.parse(JSON.stringify(inSecond[0]!.position));
      const resumed = await readAll(source, [first, second], position);
      await source.close();
      expect(docsOf(resumed, first)).toEqual([]);
      const seen = new Set([...(inSecond[0]!.docs as Doc[]), ...docsOf(resumed, second)].map((d) => d._id));
      expect(seen.size).toBe(docs.length);
    });

    // A file target is written whole by every run: no document is in it before the run, so
    // --on-conflict never meets an existing one (the file keeps every version, see above).
    if (!options.appendOnly) {
      test('--on-conflict overwrite replaces what exists and says written', async () => {
        const collection = `${uniquePrefix()}_overwrite`;
        await writeWith(options, 'overwrite', collection, [{ _id: 'old', v: 1 }]);
        expect(await writeWith(options, 'overwrite', collection, [{ _id: 'old', v: 2 }, { _id: 'fresh', v: 2 }])).toEqual([
          { status: 'written' },
          { status: 'written' },
        ]);
        const source = await options.source();
        const stored = docsOf(await readAll(source, [collection]), collection);
        await source.close();
        expect(normalize(stored)).toEqual([{ _id: 'fresh', v: 2 }, { _id: 'old', v: 2 }]);
      });

      test('--on-conflict skip and fail leave what exists alone and answer per document', async () => {
        const collection = `${uniquePrefix()}_conflict`;
        await writeWith(options, 'overwrite', collection, [{ _id: 'old', v: 1 }]);
        expect(await writeWith(options, 'skip', collection, [{ _id: 'old', v: 2 }, { _id: 'fresh', v: 2 }])).toEqual([
          { status: 'skipped', reason: 'exists in target' },
          { status: 'written' },
        ]);
        expect(await writeWith(options, 'fail', collection, [{ _id: 'newer', v: 3 }, { _id: 'old', v: 3 }])).toEqual([
          { status: 'written' },
          { status: 'failed', reason: 'conflict: _id old exists in target' },
        ]);
        const source = await options.source();
        const stored = docsOf(await readAll(source, [collection]), collection);
        await source.close();
        expect(normalize(stored)).toEqual([{ _id: 'fresh', v: 2 }, { _id: 'newer', v: 3 }, { _id: 'old', v: 1 }]);
      });

      test('--on-conflict skip through a run counts skipped documents, never failed', async () => {
        const collection = `${uniquePrefix()}_runskip`;
        await writeWith(options, 'overwrite', collection, [{ _id: 'a', v: 1 }]);
        const { report } = await migrateInto(await options.sink({ onConflict: 'skip' }), collection, [{ _id: 'a', v: 2 }, { _id: 'b', v: 2 }]);
        expect(report.collections[collection]).toEqual({ read: 2, written: 1, skipped: 1, dropped: 0, failed: 0, deleted: 0 });
        expect(report.ok).toBe(true);
      });
    }

    if (options.removes) {
      test('remove (follow): deletes the given _ids; one never there, or removed twice, counts as removed', async () => {
        const collection = `${uniquePrefix()}_remove`;
        const sink = await options.sink();
        await writeAll(sink, collection, [{ _id: 'gone', v: 1 }, { _id: 'kept', v: 1 }]);
        const signal = new AbortController().signal;
        expect(await sink.remove!(collection, ['gone', 'never-there'], signal)).toEqual([{ status: 'written' }, { status: 'written' }]);
        expect(await sink.remove!(collection, ['gone'], signal)).toEqual([{ status: 'written' }]);
        await sink.close(true);
        const source = await options.source();
        const stored = docsOf(await readAll(source, [collection]), collection);
        await source.close();
        expect(normalize(stored)).toEqual([{ _id: 'kept', v: 1 }]);
      });
    }

    if (options.refuses) {
      const refused = options.refuses;
      test('check refuses what the store cannot hold; a run dead-letters it with that reason and writes the rest', async () => {
        const collection = `${uniquePrefix()}_refused`;
        const sink = await options.sink();
        for (const { doc, reason } of refused) expect(sink.check?.(doc, collection)).toMatch(reason);
        const good = [{ _id: 'good-1', v: 1 }, { _id: 'good-2', v: 2 }];
        const { report, deadLetters } = await migrateInto(sink, collection, [...good, ...refused.map((r) => r.doc)]);
        expect(report.collections[collection]).toEqual({ read: good.length + refused.length, written: 2, skipped: 0, dropped: 0, failed: refused.length, deleted: 0 });
        const byId = (a: { _id: unknown }, b: { _id: unknown }) => (String(a._id) < String(b._id) ? -1 : 1);
        expect(deadLetters.map(({ collection, _id, reason }) => ({ collection, _id, reason })).sort(byId)).toEqual(
          refused.map(({ doc, reason }) => ({ collection, _id: doc._id, reason: expect.stringMatching(reason) })).sort(byId),
        );
        const source = await options.source();
        const stored = docsOf(await readAll(source, [collection]), collection);
        await source.close();
        expect(normalize(stored)).toEqual(good);
      });
    } else {
      test('holds any JSON document: check refuses none of the documents other stores refuse', async () => {
        const collection = `${uniquePrefix()}_unusual`;
        const docs = unusualDocs();
        const sink = await options.sink();
        for (const doc of docs) expect(sink.check?.(doc, collection)).toBeUndefined();
        await writeAll(sink, collection, docs);
        await sink.close(true);
        const source = await options.source();
        const stored = docsOf(await readAll(source, [collection]), collection);
        await source.close();
        expect(normalize(stored)).toEqual(sortById(docs));
      });
    }
  });
}
