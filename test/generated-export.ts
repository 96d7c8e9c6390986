/**
 * Generated exports and the built CLI for the "nothing lost" tests (faults, resume, secrets):
 * thousands of documents over several collections, varied enough (unicode, nesting, lists, nulls,
 * floats) that a changed or truncated document would show in verify.
 */
import { localDynamoEnv } from './helpers.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Doc } from '../src/types.js';

export function generatedDoc(collection: string, i: number): Doc {
  return {
    _id: `${collection}-${String(i).padStart(6, '0')}`,
    n: i,
    name: `${collection} ${i} ✓ é 日本`,
    ratio: (i % 97) / 8,
    active: i % 3 === 0,
    owner: i % 5 === 0 ? null : `user-${i % 50}`,
    tags: i % 4 === 0 ? [] : [`t${i % 7}`, `t${i % 11}`],
    nested: { depth: { value: i * 3, text: 'x'.repeat(i % 40) }, list: [i, { k: String(i) }] },
  };
}

/** Writes `{metadata, data}` with `counts[collection]` documents each; returns the data. */
export function writeGeneratedExport(path: string, counts: Record<string, number>): Record<string, Doc[]> {
  const data: Record<string, Doc[]> = {};
  for (const [collection, count] of Object.entries(counts)) {
    data[collection] = Array.from({ length: count }, (_, i) => generatedDoc(collection, i));
  }
  const metadata = { provider: 'memory', exported_at: '2026-01-11T10:00:00Z', collections: Object.keys(data) };
  writeFileSync(path, JSON.stringify({ metadata, data }, null, 2));
  return data;
}

export const cliPath = fileURLToPath(new URL('../bin/gofannon-etl.js', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts the built CLI (run `npm run build` first; `npm test` does), in `cwd` when given. */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv = process.env, cwd?: string): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [cliPath, ...args], { env: { ...env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'], ...(cwd ? { cwd } : {}) });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b) => (stdout += b));
  child.stderr!.on('data', (b) => (stderr += b));
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

/** Runs the built CLI to the end (asynchronously: a proxy in this process keeps serving). */
export function runCli(args: string[], env?: NodeJS.ProcessEnv): Promise<CliResult> {
  return spawnCli(args, env).done;
}

/** The environment without any credential the developer's shell may carry, in the test DynamoDB Local's region. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(AWS_|COUCHDB_|DYNAMODB_|GOOGLE_|FIRESTORE_)/.test(k)) env[k] = v;
  }
  // No shared AWS files either (the SDK's chain would read the developer's ~/.aws): DynamoDB Local's
  // database of the `local` key, which the in-process tests reach with the adapters' dummy keys.
  return {
    ...env,
    ...localDynamoEnv,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws/credentials',
    AWS_CONFIG_FILE: '/nonexistent/aws/config',
    ...extra,
  };
}

/**
 * A transform that stops at document GATE_AT until the process gets SIGTERM (after the CLI's own
 * handler, registered first, has begun stopping the run): the test interrupts the run exactly
 * there, whatever the machine's pace (a SIGKILL never releases it). Without GATE_AT it passes every
 * document through. With GATE_SHARD (`INDEX/COUNT`) it holds only that worker of --workers (the
 * parent names each child so in GOFANNON_ETL_WORKER), and a worker is released too when its
 * parent goes away (it then stops as on SIGTERM). Tests write it as `gate.mjs` next to their files.
 */
export const gateTransform = `let seen = 0;
const mine = !process.env.GATE_SHARD || process.env.GATE_SHARD === process.env.GOFANNON_ETL_WORKER;
// A worker whose parent is already gone is stopping: nothing would release it any more.
const orphaned = () => Boolean(process.env.GOFANNON_ETL_WORKER) && !process.connected;
export default async function gate(doc) {
  if (mine && ++seen === Number(process.env.GATE_AT) && !orphaned()) {
    // A signal listener does not keep Node alive: with nothing else pending, the process would
    // exit (code 13) before the SIGTERM came. The timer holds it until then.
    const alive = setInterval(() => {}, 1000);
    const released = new Promise((resolve) => {
      process.once('SIGTERM', resolve);
      process.once('disconnect', resolve);
    });
    process.stderr.write('gate reached\\n');
    await released;
    clearInterval(alive);
  }
  return doc;
}
`;
