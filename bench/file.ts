/**
 * Reading a pretty-printed Gofannon export (~100 MB, and ~1 GB unless BENCH_SMALL=1), in one run:
 * (a) ours: `migrate({ from: 'file:X', to: 'null' })`, the file source through the real pipeline;
 * (b) the canonical stream-json recipe on the same file: parser → pick (each document under
 *     `data.<collection>`) → streamValues, the usual way to stream an export without loading it;
 * (c) readFileSync + JSON.parse of the whole file, the in-memory reference.
 * Then peak RSS of (a) for both sizes, each in a fresh child process (target: 1 GB ≤ 1.25x 100 MB, < 200 MB).
 * Targets: (a) ≥ 4x (b), ≥ 50 MB/s.
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { createReadStream } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import chain from 'stream-chain';
import { parser } from 'stream-json';
import { pick } from 'stream-json/filters/pick.js';
import { streamValues } from 'stream-json/streamers/stream-values.js';
import { migrate } from '../src/pipeline.js';
import { makeDoc } from './fixtures.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cacheDir = join(root, '.bench');
const MB = 1e6;

/** Writes an export.py-shaped file (metadata first, indent 2) of about `bytes`, streaming. */
async function generate(path: string, bytes: number): Promise<void> {
  const collections = ['agents', 'users', 'sessions'];
  const share = [0.2, 0.2, 0.6];
  const temp = `${path}.partial`;
  const out = createWriteStream(temp, { highWaterMark: 1 << 20 });
  const write = async (text: string) => {
    if (!out.write(text)) await new Promise<void>((r) => out.once('drain', () => r()));
  };
  const metadata = { provider: 'couchdb', exported_at: '2026-01-11T10:00:00.000000', collections };
  await write(`{\n  "metadata": ${JSON.stringify(metadata, null, 2).replace(/\n/g, '\n  ')},\n  "data": {`);
  let written = 0;
  for (const [c, collection] of collections.entries()) {
    await write(`${c ? ',' : ''}\n    "${collection}": [`);
    const until = written + bytes * share[c]!;
    let parts: string[] = [];
    for (let i = 0; written < until; i++) {
      const text = (i ? ',\n      ' : '\n      ') + JSON.stringify(makeDoc(collection, i), null, 2).replace(/\n/g, '\n      ');
      written += text.length;
      parts.push(text);
      if (parts.length === 500) {
        await write(parts.join(''));
        parts = [];
      }
    }
    await write(`${parts.join('')}\n    ]`);
  }
  await write('\n  }\n}\n');
  await new Promise<void>((r, reject) => out.end((error?: Error | null) => (error ? reject(error) : r())));
  renameSync(temp, path);
}

async function exportFile(label: string, bytes: number): Promise<string> {
  mkdirSync(cacheDir, { recursive: true });
  const path = join(cacheDir, `export-${label}.json`);
  if (!existsSync(path)) {
    process.stdout.write(`generating ${path} (~${label})...\n`);
    await generate(path, bytes);
  }
  return path;
}

/** Wall time, and CPU time too: on a shared 2-core machine the CPU figure is the steadier one. */
async function timed(run: () => Promise<number>): Promise<{ seconds: number; cpu: number; docs: number }> {
  (globalThis as { gc?: () => void }).gc?.();
  const started = performance.now();
  const cpu = process.cpuUsage();
  const docs = await run();
  const used = process.cpuUsage(cpu);
  return { seconds: (performance.now() - started) / 1000, cpu: (used.user + used.system) / 1e6, docs };
}

async function ours(path: string): Promise<number> {
  const report = await migrate({ from: `file:${path}`, to: 'null' });
  if (!report.ok) throw new Error(`migrate reported failure: ${JSON.stringify(report.total)}`);
  return report.total.read;
}

async function streamJson(path: string): Promise<number> {
  let docs = 0;
  const pipeline = chain([
    createReadStream(path, { highWaterMark: 1 << 20 }),
    parser(),
    pick({ filter: (stack: unknown[]) => stack.length === 3 && stack[0] === 'data' }),
    streamValues(),
    () => {
      docs++;
      return undefined;
    },
  ]);
  pipeline.resume();
  await new Promise<void>((resolveDone, reject) => {
    pipeline.on('end', resolveDone);
    pipeline.on('finish', resolveDone);
    pipeline.on('error', reject);
  });
  return docs;
}

async function wholeParse(path: string): Promise<number> {
  const value = JSON.parse(readFileSync(path, 'utf8')) as { data: Record<string, unknown[]> };
  return Object.values(value.data).reduce((n, docs) => n + docs.length, 0);
}

/** Peak RSS (MB) of `ours` on a file, alone in a fresh process. */
function peakRss(path: string): number {
  const runner = fileURLToPath(new URL('./file-rss.ts', import.meta.url));
  const child = spawnSync(process.execPath, ['--import', 'tsx', runner, path], { cwd: root, encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`rss runner failed: ${child.stderr}`);
  return Number(/maxRSS=(\d+)/.exec(child.stdout)![1]) / 1024;
}

function line(name: string, bytes: number, r: { seconds: number; cpu: number; docs: number }): string {
  const perSecond = `${(bytes / MB / r.seconds).toFixed(1).padStart(7)} MB/s ${Math.round(r.docs / r.seconds).toString().padStart(9)} docs/s`;
  return `${name.padEnd(34)} ${perSecond}  (${r.seconds.toFixed(2)} s wall, ${r.cpu.toFixed(2)} s CPU = ${(bytes / MB / r.cpu).toFixed(1)} MB per CPU-s; ${r.docs} docs)`;
}

export default async function bench(): Promise<void> {
  const small = await exportFile('100MB', 100 * MB);
  const large = process.env.BENCH_SMALL ? undefined : await exportFile('1GB', 1000 * MB);

  const bytes = statSync(small).size;
  console.log(`file: ${small} (${(bytes / MB).toFixed(1)} MB, pretty-printed, metadata first)`);
  const a = await timed(() => ours(small));
  console.log(line('(a) ours: file → null (migrate)', bytes, a));
  const b = await timed(() => streamJson(small));
  console.log(line('(b) stream-json parser→pick→values', bytes, b));
  const c = await timed(() => wholeParse(small));
  console.log(line('(c) readFileSync + JSON.parse', bytes, c));
  if (a.docs !== b.docs || a.docs !== c.docs) console.log(`!! document counts differ: ${a.docs} / ${b.docs} / ${c.docs}`);
  console.log(`ours / stream-json: ${(b.seconds / a.seconds).toFixed(2)}x wall, ${(b.cpu / a.cpu).toFixed(2)}x CPU (target ≥ 4x)`);
  console.log(`ours / JSON.parse:  ${(c.seconds / a.seconds).toFixed(2)}x wall, ${(c.cpu / a.cpu).toFixed(2)}x CPU`);
  console.log(`load average while measuring: ${loadavg().map((l) => l.toFixed(1)).join(' ')} on ${cpus().length} cores`);

  if (large) {
    const largeBytes = statSync(large).size;
    const l = await timed(() => ours(large));
    console.log(line(`(a) ours on ${(largeBytes / MB).toFixed(0)} MB`, largeBytes, l));
    const smallRss = peakRss(small);
    const largeRss = peakRss(large);
    console.log(`peak RSS of (a): ${smallRss.toFixed(0)} MB on 100 MB, ${largeRss.toFixed(0)} MB on 1 GB: ${(largeRss / smallRss).toFixed(2)}x (target ≤ 1.25x, < 200 MB)`);
  } else {
    console.log(`peak RSS of (a) on 100 MB: ${peakRss(small).toFixed(0)} MB (1 GB part skipped: BENCH_SMALL)`);
  }
}
