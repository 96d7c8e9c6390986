/**
 * `--workers 2` against `--workers 1`, through the built CLI (`npm run build` first), in one run, on
 * the same inputs: NDJSON -> null and NDJSON -> NDJSON (~400 MB, BENCH_SMALL=1 for ~100 MB; the
 * CPU-bound file paths, target >= 1.6x on 2 cores; each worker is a process of its own, so about
 * half a second of start-up and warm-up is paid again per run, which a larger input amortises) and NDJSON -> DynamoDB Local (30,000 documents,
 * fresh tables each run; the store's pace decides). Each pair alternates which goes first, over
 * BENCH_ROUNDS rounds (default 3), and the median is taken; the load average is printed with the
 * figures, since the machine may be shared, and so are the CPU seconds of each run's process tree
 * (the parent and its workers), the steadier figure there.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDynamoLocal } from '../test/servers/dynamodb-local.js';
import { makeDoc, median } from './fixtures.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'bin', 'gofannon-etl.js');
const cacheDir = join(root, '.bench');
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const MB = 1e6;

/** An NDJSON export of about `bytes`, agents, users and sessions in turn, written once and cached. */
async function ndjsonFile(name: string, bytes: number): Promise<{ path: string; docs: number }> {
  mkdirSync(cacheDir, { recursive: true });
  const path = join(cacheDir, name);
  const kinds = ['agents', 'users', 'sessions'];
  const perKind = Math.round(bytes / 3 / 420);
  if (!existsSync(path)) {
    process.stdout.write(`generating ${path}...\n`);
    const out = createWriteStream(`${path}.partial`, { highWaterMark: 1 << 20 });
    for (const kind of kinds) {
      let text = `${JSON.stringify({ collection: kind })}\n`;
      for (let i = 0; i < perKind; i++) {
        text += `${JSON.stringify({ collection: kind, doc: makeDoc(kind, i) })}\n`;
        if (text.length > 1 << 20) {
          if (!out.write(text)) await new Promise<void>((r) => out.once('drain', () => r()));
          text = '';
        }
      }
      out.write(text);
    }
    await new Promise<void>((r, reject) => out.end((error?: Error | null) => (error ? reject(error) : r())));
    renameSync(`${path}.partial`, path);
  }
  return { path, docs: perKind * kinds.length };
}

/**
 * CPU seconds of this process's reaped children and theirs (`cutime` + `cstime` of /proc/self/stat):
 * a CLI run's whole tree, its workers included, once it has ended.
 */
function childrenCpu(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').replace(/^.*\) /, '').split(' ');
  // After the command name: state is field 3, so cutime (16) and cstime (17) are at 13 and 14 here.
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

/** CPU seconds per worker count, summed over the runs (the steadier figure on a shared machine). */
const cpuUsed = new Map<string, number[]>();

/** Seconds one CLI run takes (and its CPU seconds, under `label`); fails loudly when the run does. */
function timedRun(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const label = args.join(' ');
  const cpuBefore = childrenCpu();
  const started = performance.now();
  const child = spawn(process.execPath, [cli, ...args, '--quiet'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b) => (stderr += b));
  return new Promise((resolve, reject) => {
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`gofannon-etl ${label} exited ${code}: ${stderr}`));
      const workers = args[args.indexOf('--workers') + 1]!;
      cpuUsed.set(workers, [...(cpuUsed.get(workers) ?? []), childrenCpu() - cpuBefore]);
      resolve((performance.now() - started) / 1000);
    });
  });
}

/** Median seconds of each worker count, alternating which runs first in every round. */
async function compare(run: (workers: number, round: number) => Promise<number>): Promise<{ one: number; two: number; ones: number[]; twos: number[] }> {
  const ones: number[] = [];
  const twos: number[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const workers of round % 2 ? [2, 1] : [1, 2]) (workers === 1 ? ones : twos).push(await run(workers, round));
  }
  return { one: median(ones.map((s) => s * 1000)) / 1000, two: median(twos.map((s) => s * 1000)) / 1000, ones, twos };
}

const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');

function line(label: string, r: { one: number; two: number; ones: number[]; twos: number[] }, unit: (s: number) => string, target?: number): void {
  const ratio = r.one / r.two;
  const cpu = (w: string) => median((cpuUsed.get(w) ?? []).map((c) => c * 1000)) / 1000;
  console.log(`${label}: --workers 1 ${r.one.toFixed(2)} s (${unit(r.one)})  --workers 2 ${r.two.toFixed(2)} s (${unit(r.two)})  => ${ratio.toFixed(2)}x${target ? ` (target >= ${target}x)` : ''}`);
  console.log(`    runs: 1 [${r.ones.map((s) => s.toFixed(2)).join(', ')}]  2 [${r.twos.map((s) => s.toFixed(2)).join(', ')}]`);
  // CPU seconds of the whole process tree: what two workers cost beyond one (the join, a second start-up).
  console.log(`    CPU: --workers 1 ${cpu('1').toFixed(2)} s, --workers 2 ${cpu('2').toFixed(2)} s (${(cpu('2') / cpu('1')).toFixed(2)}x the CPU for the same work)`);
  cpuUsed.clear();
}

export default async function workersBench(): Promise<void> {
  if (!existsSync(join(root, 'dist', 'cli.js'))) throw new Error('bench/workers runs the built CLI: npm run build first');
  const big = await ndjsonFile(process.env.BENCH_SMALL ? 'workers-100mb.ndjson' : 'workers-400mb.ndjson', process.env.BENCH_SMALL ? 100 * MB : 400 * MB);
  const size = statSync(big.path).size;
  console.log(`${cpus().length} cores; load average before: ${load()}; input ${(size / MB).toFixed(0)} MB, ${big.docs.toLocaleString('en-US')} documents; median of ${rounds} rounds`);
  const mbps = (s: number) => `${(size / MB / s).toFixed(0)} MB/s`;

  line('NDJSON -> null  ', await compare((w) => timedRun(['--from', `file:${big.path}`, '--to', 'null', '--workers', String(w)])), mbps, 1.6);

  const out = join(cacheDir, 'workers-out.ndjson');
  line('NDJSON -> NDJSON', await compare(async (w) => {
    const seconds = await timedRun(['--from', `file:${big.path}`, '--to', `file:${out}`, '--workers', String(w)]);
    rmSync(out, { force: true });
    return seconds;
  }), mbps, 1.6);

  const small = await ndjsonFile('workers-dynamodb.ndjson', 30_000 * 420);
  const server = await startDynamoLocal();
  try {
    const env = { ...process.env, AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', DYNAMODB_REGION: 'us-east-1', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
    const to = server.url.replace(/^http:/, 'dynamodb:');
    const docsPerSecond = (s: number) => `${Math.round(small.docs / s).toLocaleString('en-US')} docs/s`;
    line('NDJSON -> DynamoDB Local', await compare((w, round) => timedRun(['--from', `file:${small.path}`, '--to', to, '--table-prefix', `bench${round}w${w}_`, '--workers', String(w)], env)), docsPerSecond);
  } finally {
    await server.stop();
  }
  console.log(`load average after: ${load()}`);
}
