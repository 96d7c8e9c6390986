/**
 * Crash and resume through the built CLI: an import is SIGKILLed part-way (no chance to save
 * anything), then the same command with --resume finishes it. The target then holds exactly the
 * source, and the overlap re-sent after the resume (documents the resumed run wrote that the
 * target already held) is measured and bounded. SIGTERM stops cleanly (exit 130, summary, resume
 * line, checkpoint saved); a checkpoint of another run is refused (exit 2).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, expect, inject, test } from 'vitest';
import type { CheckpointData } from '../src/pipeline/checkpoint.js';
import type { RunReport } from '../src/types.js';
import { migrate } from '../src/pipeline.js';
import { verify } from '../src/verify/verify.js';
import { uniquePrefix } from './corpus.js';
import { cleanEnv, runCli, spawnCli, writeGeneratedExport, type CliResult } from './generated-export.js';
import { localDynamoEnv } from './helpers.js';

const dynamoUrl = inject('dynamodbUrl');
const dynamoUri = dynamoUrl.replace(/^http:/, 'dynamodb:');
const couchUri = inject('couchdbAuthUrl').replace(/^http:/, 'couchdb:');
const dir = mkdtempSync(join(tmpdir(), 'resume-'));
const quiet = { env: localDynamoEnv, warn: () => {} };
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const client = new DynamoDBClient({ endpoint: dynamoUrl, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
afterAll(() => client.destroy());

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/** Items in a table, counted by DynamoDB itself. */
async function countTable(table: string): Promise<number> {
  let count = 0;
  let start: Record<string, never> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: table, Select: 'COUNT', ExclusiveStartKey: start }));
    count += page.Count ?? 0;
    start = page.LastEvaluatedKey as typeof start;
  } while (start);
  return count;
}

async function countTables(prefix: string, collections: string[]): Promise<number> {
  const counts = await Promise.all(collections.map((c) => countTable(prefix + c).catch(() => 0)));
  return sum(counts);
}

function readCheckpoint(path: string): CheckpointData | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as CheckpointData;
  } catch {
    return undefined;
  }
}

const writtenIn = (checkpoint: CheckpointData | undefined) => sum(Object.values(checkpoint?.stats ?? {}).map((s) => s.written));

/** Starts the CLI and sends `signal` once its checkpoint says at least `after` documents were written. */
async function interruptAfter(args: string[], checkpoint: string, after: number, signal: NodeJS.Signals, delayMs = 0): Promise<CliResult> {
  const { child, done } = spawnCli(args, cleanEnv());
  let finished = false;
  void done.then(() => (finished = true));
  while (!finished && writtenIn(readCheckpoint(checkpoint)) < after) await new Promise((r) => setTimeout(r, 20));
  // Killing right after a save would be the kindest moment; `delayMs` lands between saves.
  if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
  expect(finished, 'the run ended before it could be interrupted: make the export larger').toBe(false);
  child.kill(signal);
  return done;
}

const counts = { agents: 8000, users: 14000, sessions: 12000, tickets: 6000 };
const totalDocs = sum(Object.values(counts));
const exportFile = join(dir, 'export.json');
writeGeneratedExport(exportFile, counts);

/**
 * The bound the overlap must stay under: what a checkpoint cannot know yet when the process dies.
 * Positions advance by whole source chunks (1000 documents of a file, a 1000-row page of CouchDB)
 * once every document of the chunk is acknowledged; up to two chunks are being written at once,
 * 16 × 25 documents in flight, and the saved position may lag the safe one by one save interval
 * (100 ms, about one more chunk at DynamoDB Local's pace). With the former one-second interval the
 * overlap measured 3600-3900 when killed 600 ms after a save, growing with the pace of writes.
 */
const overlapBound = 3 * 1000 + 16 * 25;

async function killAndResume(what: string, from: string, prefix: string, collections: string[], total: number, extra: string[] = []) {
  const checkpoint = join(dir, `${prefix}ckpt.json`);
  const report = join(dir, `${prefix}report.json`);
  const args = ['--from', from, '--to', dynamoUri, '--table-prefix', prefix, '--checkpoint', checkpoint, '--quiet', ...extra];

  const killed = await interruptAfter(args, checkpoint, Math.floor(total / 4), 'SIGKILL', 600);
  expect(killed.signal).toBe('SIGKILL');
  const saved = readCheckpoint(checkpoint)!;
  expect(saved.complete).toBe(false);
  const present = await countTables(prefix, collections);
  // The checkpoint only counts what the target acknowledged.
  expect(present).toBeGreaterThanOrEqual(writtenIn(saved));
  expect(present).toBeLessThan(total);

  const resumed = await runCli([...args, '--resume', '--report', report], cleanEnv());
  expect(resumed.code, resumed.stderr).toBe(0);
  // The report covers the whole migration; what this run wrote is the total less the earlier part.
  const whole = JSON.parse(readFileSync(report, 'utf8')) as RunReport;
  expect(whole.earlier?.written).toBe(writtenIn(saved));
  // The parts add up to the migration: what the source holds, each document counted once.
  expect(whole.total).toMatchObject({ read: total, written: total, failed: 0 });
  const written = whole.total.written - whole.earlier!.written;
  const overlap = written - (total - present);
  console.log(`[resume] ${what}: killed with ${present}/${total} in the target (checkpoint said ${writtenIn(saved)}); the resumed run wrote ${written}, overlap re-sent ${overlap}`);
  expect(overlap).toBeGreaterThanOrEqual(0);
  expect(overlap).toBeLessThanOrEqual(overlapBound);
  expect(readCheckpoint(checkpoint)!.complete).toBe(true);
  expect(await countTables(prefix, collections)).toBe(total);
  return { present, written, overlap };
}

// Tens of thousands of documents written twice over (part-way, then resumed): on a loaded
// 2-core machine these alone can pass the suite's 60 s.
test('file → DynamoDB: SIGKILL part-way, then --resume: the target holds exactly the source', async () => {
  const prefix = `${uniquePrefix()}_`;
  await killAndResume('file → DynamoDB', `file:${exportFile}`, prefix, Object.keys(counts), totalDocs);
  const check = await verify({ from: `file:${exportFile}`, to: dynamoUri, tablePrefix: prefix, ...quiet });
  expect(check.identical).toBe(true);
  for (const [c, n] of Object.entries(counts)) expect(check.collections[c]).toMatchObject({ source: n, target: n, matched: n });
}, 150_000);

test('CouchDB → DynamoDB: SIGKILL part-way, then --resume (database positions)', async () => {
  const couchPrefix = `${uniquePrefix()}_`;
  const couchCounts = { agents: 6000, users: 9000, sessions: 5000 };
  const file = join(dir, `${couchPrefix}couch.json`);
  writeGeneratedExport(file, Object.fromEntries(Object.entries(couchCounts).map(([c, n]) => [couchPrefix + c, n])));
  const loaded = await migrate({ from: `file:${file}`, to: couchUri, ...quiet });
  expect(loaded.ok).toBe(true);
  const collections = Object.keys(couchCounts).map((c) => couchPrefix + c);
  const total = sum(Object.values(couchCounts));
  const prefix = `${uniquePrefix()}_`;
  await killAndResume('CouchDB → DynamoDB', couchUri, prefix, collections, total, ['--collections', collections.join(',')]);
  const check = await verify({ from: couchUri, to: dynamoUri, tablePrefix: prefix, collections, ...quiet });
  expect(check.identical).toBe(true);
}, 150_000);

test('SIGTERM: exit 130, summary and the resume command printed, checkpoint saved; the resume completes', async () => {
  const prefix = `${uniquePrefix()}_`;
  const checkpoint = join(dir, `${prefix}ckpt.json`);
  const args = ['--from', `file:${exportFile}`, '--to', dynamoUri, '--table-prefix', prefix, '--checkpoint', checkpoint];
  const stopped = await interruptAfter(args, checkpoint, 5000, 'SIGTERM');
  expect(stopped.code, stopped.stderr).toBe(130);
  expect(stopped.stdout).toMatch(/Interrupted in/);
  expect(stopped.stdout).toMatch(/total\s+\d+/);
  const resumeLine = /To continue where it stopped: (.*)/.exec(stopped.stdout)?.[1];
  expect(resumeLine).toContain('--resume');
  expect(resumeLine).toContain(`--checkpoint ${checkpoint}`);
  const saved = readCheckpoint(checkpoint)!;
  expect(saved.complete).toBe(false);
  // A clean stop saves exactly what the target holds: every batch in flight was finished.
  expect(await countTables(prefix, Object.keys(counts))).toBe(writtenIn(saved));

  const resumed = await runCli([...args, '--resume', '--quiet'], cleanEnv());
  expect(resumed.code, resumed.stderr).toBe(0);
  expect(readCheckpoint(checkpoint)!.complete).toBe(true);
  expect(writtenIn(readCheckpoint(checkpoint))).toBe(totalDocs);
  const check = await verify({ from: `file:${exportFile}`, to: dynamoUri, tablePrefix: prefix, ...quiet });
  expect(check.identical).toBe(true);
});

test('a checkpoint of another run (target, file) is refused with a clear error, exit 2', async () => {
  const prefix = `${uniquePrefix()}_`;
  const small = join(dir, `${prefix}small.json`);
  writeGeneratedExport(small, { agents: 30 });
  const checkpoint = join(dir, `${prefix}ckpt.json`);
  const base = ['--from', `file:${small}`, '--checkpoint', checkpoint, '--quiet'];
  // A finished run's checkpoint: identity is checked before anything else, so it serves as well as a crashed one's.
  const done = await runCli([...base, '--to', dynamoUri, '--table-prefix', prefix], cleanEnv());
  expect(done.code, done.stderr).toBe(0);
  const otherTarget = await runCli([...base, '--to', dynamoUri, '--table-prefix', `${prefix}other_`, '--resume'], cleanEnv());
  expect(otherTarget.code).toBe(2);
  expect(otherTarget.stderr).toMatch(/belongs to another run: its target was .*, this run's is .*other_/);

  const otherFile = join(dir, `${prefix}other.json`);
  writeGeneratedExport(otherFile, { agents: 30 });
  const otherSource = await runCli(['--from', `file:${otherFile}`, '--checkpoint', checkpoint, '--to', dynamoUri, '--table-prefix', prefix, '--resume'], cleanEnv());
  expect(otherSource.code).toBe(2);
  expect(otherSource.stderr).toMatch(/belongs to another run: its source was file:.*small\.json.*, this run's is file:.*other\.json/);
});
