/**
 * file → CouchDB throughput, next to two baselines measured in the same run on the same
 * pouchdb-server (each variant into fresh databases):
 * - ceiling: raw `_bulk_docs` posts of prebuilt bodies, same batch size and posts in flight as ours;
 * - seed: one PUT per document, one at a time (what migrate.py's `save` loop does).
 * Target: ours ≥ 85% of the ceiling.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { migrate } from '../src/pipeline.js';
import { startCouch } from '../test/servers/couchdb.js';
import { median, mixedDocs, seconds, writeExport } from './fixtures.js';

const docCount = Number(process.env.BENCH_COUCH_DOCS ?? 30_000);
const seedDocCount = 2_000;
const batchSize = 500;
const concurrency = 4;
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);

async function rawJson(url: string, method: string, body?: string): Promise<unknown> {
  const response = await fetch(url, { method, headers: { 'content-type': 'application/json' }, body });
  if (!response.ok && response.status !== 412) throw new Error(`${method} ${url}: ${response.status} ${await response.text()}`);
  return response.json();
}

async function ceiling(url: string, db: string, docs: Record<string, unknown>[], inFlight: number): Promise<number> {
  await rawJson(`${url}/${db}`, 'PUT');
  const bodies: string[] = [];
  for (let i = 0; i < docs.length; i += batchSize) bodies.push(JSON.stringify({ docs: docs.slice(i, i + batchSize) }));
  const limit = pLimit(inFlight);
  return seconds(async () => {
    await Promise.all(bodies.map((body) => limit(() => rawJson(`${url}/${db}/_bulk_docs`, 'POST', body))));
  });
}

async function seedWay(url: string, db: string, docs: Record<string, unknown>[]): Promise<number> {
  await rawJson(`${url}/${db}`, 'PUT');
  return seconds(async () => {
    for (const doc of docs) await rawJson(`${url}/${db}/${encodeURIComponent(doc._id as string)}`, 'PUT', JSON.stringify(doc));
  });
}

/** Deletes a measured database, so the in-memory server does not grow from one variant to the next. */
async function drop(url: string, db: string): Promise<void> {
  await rawJson(`${url}/${db}`, 'DELETE');
}

async function ours(url: string, file: string, collection: string, inFlight: number): Promise<number> {
  let written = 0;
  const took = await seconds(async () => {
    const report = await migrate({ from: `file:${file}`, to: url.replace(/^http:/, 'couchdb:'), batchSize, concurrency: inFlight, warn: () => {} });
    written = report.collections[collection]?.written ?? 0;
  });
  if (written !== docCount) throw new Error(`ours wrote ${written} of ${docCount} documents`);
  return took;
}

export default async function bench(): Promise<void> {
  const couch = await startCouch();
  const dir = mkdtempSync(join(tmpdir(), 'bench-couch-'));
  try {
    const docs = mixedDocs(docCount);
    const file = join(dir, 'ours.json');
    await writeExport(file, { ours: docs });
    const rate = (took: number, n = docCount) => Math.round(n / took);
    let fresh = 0;
    const measureCeiling = async (inFlight: number) => {
      const db = `ceiling_${++fresh}`;
      const docsPerSecond = rate(await ceiling(couch.url, db, docs, inFlight));
      await drop(couch.url, db);
      return docsPerSecond;
    };
    const measureOurs = async (inFlight: number) => {
      const docsPerSecond = rate(await ours(couch.url, file, 'ours', inFlight));
      await drop(couch.url, 'ours');
      return docsPerSecond;
    };
    // pouchdb-server speeds up as its JIT warms: one unmeasured run first. Then rounds that
    // alternate which variant goes first, medians reported, so drift and a busy machine fall on
    // both sides alike.
    await measureCeiling(concurrency);
    const seedRate = rate(await seedWay(couch.url, 'seed', docs.slice(0, seedDocCount)), seedDocCount);
    const results = new Map<number, { ceiling: number; ours: number }>();
    for (const inFlight of [concurrency, 2, 8]) {
      const c: number[] = [];
      const o: number[] = [];
      for (let round = 0; round < rounds; round++) {
        if (round % 2 === 0) c.push(await measureCeiling(inFlight)), o.push(await measureOurs(inFlight));
        else o.push(await measureOurs(inFlight)), c.push(await measureCeiling(inFlight));
      }
      if (process.env.BENCH_VERBOSE) console.log(`${inFlight} in flight`, { ceiling: c, ours: o });
      results.set(inFlight, { ceiling: median(c), ours: median(o) });
    }

    const headline = results.get(concurrency)!;
    const percent = (a: number, b: number) => `${((a / b) * 100).toFixed(0)}% of ceiling`;
    console.log(`${docCount} documents of ~${JSON.stringify(docs[0]).length} bytes, ${batchSize} per post, pouchdb-server --in-memory, median of ${rounds} rounds`);
    console.log(`seed: one PUT per document (${seedDocCount} docs)`.padEnd(48), `${seedRate} docs/s`.padStart(13), percent(seedRate, headline.ceiling));
    for (const [inFlight, r] of results) {
      console.log(`${inFlight} in flight: ceiling (raw _bulk_docs)`.padEnd(48), `${r.ceiling} docs/s`.padStart(13));
      console.log(`${inFlight} in flight: ours (file → couchdb, migrate)`.padEnd(48), `${r.ours} docs/s`.padStart(13), percent(r.ours, r.ceiling));
    }
    const ratio = headline.ours / headline.ceiling;
    console.log(`ours / ceiling at the default ${concurrency} in flight = ${(ratio * 100).toFixed(1)}% (target ≥ 85%): ${ratio >= 0.85 ? 'met' : 'NOT met'}`);
    console.log(`ours / seed = ${(headline.ours / seedRate).toFixed(1)}x`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await couch.stop();
  }
}
