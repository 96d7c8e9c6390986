/**
 * One suite, run against every adapter on its real server (the unstorage way): what a Source and a
 * Sink must do regardless of the store behind them.
 */
import { describe, expect, test } from 'vitest';
import type { Doc, Position, Sink, Source, SourceChunk } from '../src/types.js';
import { corpus as fullCorpus, sortById, uniquePrefix } from './corpus.js';

export interface ConformanceOptions {
  /** Opens a sink on the store; `batchSize` when given. */
  sink(options?: { batchSize?: number }): Promise<Sink>;
  /** Opens a source on the same store; `batchSize` is its page size when given. */
  source(options?: { batchSize?: number }): Promise<Source>;
  /** The corpus this store must carry exactly (default: the full corpus). */
  corpus?: () => Record<string, Doc[]>;
  /** Maps documents read back before comparing, where the store's documented limits call for it. */
  normalize?: (doc: Doc) => Doc;
  /** The store appends (a file): writing an _id again adds a later version instead of replacing it. */
  appendOnly?: boolean;
  /**
   * What listCollections answers: the collections (default); `unknown` (undefined, as a gzipped
   * file with its metadata at the end does); or `refused` (an error asking for --collections, as
   * the Firestore emulator, which cannot list, does).
   */
  lists?: 'collections' | 'unknown' | 'refused';
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
      const listed = await source.listCollections().catch((e: Error) => e);
      await source.close();
      // A store that cannot list must say so, never list wrongly.
      const lists = options.lists ?? 'collections';
      if (lists === 'collections') expect(listed).toContain(`${prefix}_listed`);
      else if (lists === 'unknown') expect(listed).toBeUndefined();
      else expect(listed instanceof Error ? listed.message : listed).toMatch(/--collections/);
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
  });
}
