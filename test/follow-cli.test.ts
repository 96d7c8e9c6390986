/**
 * `--follow` through the built CLI, as far as the memory store allows (it lives in one process:
 * a transform module seeds it and changes it while the run goes on, like the application would,
 * and the gate transform holds the snapshot where a test stops it;
 * the stores' own tests follow real servers). A stop while following is how a follow ends (exit
 * 0, summary, the command that goes on following); a stop during the snapshot is an interruption
 * (130); --until-caught-up ends by itself and --verify then compares; the refusals are one line,
 * exit 2, before anything is written.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, test } from 'vitest';
import type { RunReport } from '../src/types.js';
import { cleanEnv, cliPath, gateTransform, runCli, type CliResult } from './generated-export.js';

const dir = mkdtempSync(join(tmpdir(), 'follow-cli-'));
const store = pathToFileURL(join(cliPath, '../../dist/stores/memory/store.js')).href;

/**
 * Seeds memory:src with agents a0..a3 as it is loaded (transforms load before the stores open).
 * When the snapshot reaches a2 the source changes (a0 deleted, a1 updated, a9 added); when a9
 * comes through the feed it says so on stderr.
 */
writeFileSync(join(dir, 'app.mjs'), `import { memoryWriter } from ${JSON.stringify(store)};
const writer = memoryWriter('src');
for (let i = 0; i < 4; i++) writer.put('agents', { _id: 'a' + i, n: i });
let changed = false;
export default function app(doc) {
  if (doc._id === 'a2' && !changed) {
    changed = true;
    writer.delete('agents', 'a0');
    writer.put('agents', { _id: 'a1', n: 'updated' });
    writer.put('agents', { _id: 'a9', n: 9 });
  }
  if (doc._id === 'a9') process.stderr.write('a9 followed\\n');
  return doc;
}
`);
writeFileSync(join(dir, 'gate.mjs'), gateTransform);

/** Runs the CLI with the app transform and sends SIGTERM once stderr says `when`. */
function stoppedWhen(args: string[], when: string, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [cliPath, ...args, '--transform', './app.mjs', '--transform', './gate.mjs'], { cwd: dir, env: { ...cleanEnv(env), NO_COLOR: '1' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b) => (stdout += b));
  child.stderr.on('data', (b) => {
    stderr += b;
    if (stderr.includes(when) && !child.killed) child.kill('SIGTERM');
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

const inDir = (args: string[]) => runCli(['--transform', join(dir, 'app.mjs'), ...args], cleanEnv());
const report = (name: string) => JSON.parse(readFileSync(join(dir, name), 'utf8')) as RunReport;

describe('gofannon-etl --follow', () => {
  test('Ctrl-C while following applies what is in flight, saves, prints the summary and exits 0', async () => {
    const args = ['--from', 'memory:src', '--to', 'memory:dst', '--follow', '--checkpoint', 'run.ckpt', '--report', 'run.json'];
    const result = await stoppedWhen(args, 'a9 followed');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/stopping: finishing the batches in flight/);
    expect(result.stdout).toMatch(/^Done in /m);
    expect(result.stdout).toMatch(/^Following: 3 changes applied in [\d.]+ s, \d+\/s; caught up with the source\.$/m);
    expect(result.stdout).toMatch(/^collection\s+read\s+written\s+skipped\s+dropped\s+failed\s+deleted$/m);
    expect(result.stdout).toContain('To go on following from where it ended: gofannon-etl --from memory:src --to memory:dst --transform ./app.mjs --transform ./gate.mjs --report run.json --checkpoint run.ckpt --follow --resume');
    const written = report('run.json');
    expect(written).toMatchObject({ ok: true, interrupted: false, follow: { applied: 3 } });
    expect(written.collections.agents).toMatchObject({ deleted: 1, failed: 0 });
    const checkpoint = JSON.parse(readFileSync(join(dir, 'run.ckpt'), 'utf8'));
    expect(checkpoint).toMatchObject({ complete: false, feed: { applied: 3, sent: 3 } });
  });

  test('off a terminal, a following line every few seconds, also while the source is quiet', async () => {
    const result = await stoppedWhen(['--from', 'memory:src', '--to', 'memory:dst', '--follow'], 'following: 3 changes applied');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/^\[\d+:\d\d\] following: 3 changes applied, \d+\/s, caught up with the source$/m);
  });

  test('Ctrl-C during the snapshot is an interruption: exit 130 and the resume command', async () => {
    const args = ['--from', 'memory:src', '--to', 'memory:dst', '--follow', '--checkpoint', 'snap.ckpt', '--batch-size', '1'];
    // The gate holds the second document of the snapshot (a1) until SIGTERM.
    const result = await stoppedWhen(args, 'gate reached', { GATE_AT: '2' });
    expect(result.code, result.stderr).toBe(130);
    expect(result.stdout).toMatch(/^Interrupted in /m);
    expect(result.stdout).not.toMatch(/^Following:/m);
    expect(result.stdout).toContain('To continue where it stopped: gofannon-etl --from memory:src --to memory:dst --transform ./app.mjs --transform ./gate.mjs --batch-size 1 --checkpoint snap.ckpt --follow --resume');
    const checkpoint = JSON.parse(readFileSync(join(dir, 'snap.ckpt'), 'utf8'));
    expect(checkpoint.feed).toMatchObject({ position: null, start: { seq: 4 } });
  });

  test('--until-caught-up ends by itself and --verify then finds source and target identical', async () => {
    const result = await inDir(['--from', 'memory:src', '--to', 'memory:dst', '--follow', '--until-caught-up', '--verify', '--report', join(dir, 'caught-up.json')]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^Following: 3 changes applied .*caught up with the source\.$/m);
    expect(result.stdout).toMatch(/^agents\s+4\s+4\s+4\s+0\s+0\s+0$/m);
    expect(result.stdout).toContain('Identical: memory:dst holds exactly what memory:src holds.');
  });

  test("a real export (its metadata names the store it came from) is refused as a file, with the file's advice", async () => {
    const sample = fileURLToPath(new URL('../examples/sample-backup.json', import.meta.url));
    const result = await inDir(['--from', `file:${sample}`, '--to', 'memory:dst', '--follow']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`gofannon-etl: --follow: file:${sample}: a file has no change feed; follow the store it was exported from (couchdb, dynamodb, firestore) instead, or import the file without --follow\n`);
  });

  test('after --until-caught-up --verify, the command to go on following is an open-ended follow, without them', async () => {
    const result = await inDir(['--from', 'memory:src', '--to', 'memory:dst', '--follow', '--until-caught-up', '--verify', '--checkpoint', join(dir, 'cutover.ckpt')]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^To go on following from where it ended: gofannon-etl --from memory:src --to memory:dst --transform \S+ --checkpoint \S+\/cutover\.ckpt --follow --resume$/m);
  });

  test.each([
    [['--from', 'file:backup.json', '--to', 'memory:dst', '--follow'], '--follow: file:backup.json: a file has no change feed; follow the store it was exported from (couchdb, dynamodb, firestore) instead, or import the file without --follow'],
    [['--from', '-', '--to', 'memory:dst', '--follow'], '--follow: file:- is read once and has no change feed'],
    [['--from', 'memory:src', '--to', 'null', '--follow'], "--follow: null cannot delete documents, so the source's deletes could not be applied: give a target that can (a database, memory, or an NDJSON file)"],
    [['--from', 'memory:src', '--to', 'memory:dst', '--follow', '--dry-run'], '--follow and --dry-run do not go together: a dry run writes nothing, so there is nothing to keep in step (check the snapshot with --dry-run alone)'],
    [['--from', 'memory:src', '--to', 'memory:dst', '--until-caught-up'], '--until-caught-up is a way to end --follow: give --follow too'],
    [['--from', 'memory:src', '--to', 'memory:dst', '--enable-stream'], '--enable-stream turns on a DynamoDB stream for --follow: give --follow too'],
    [['--from', 'memory:src', '--to', 'memory:dst', '--follow', '--shard', '1/2'], '--follow and --shard do not go together: one process follows the whole change feed, so that the changes to each _id are applied in order; follow without --shard'],
    [['--from', 'memory:src', '--to', 'memory:dst', '--follow', '--verify'], '--verify with --follow needs --until-caught-up: a follow stopped while the source is written to differs from it; stop the writes, then follow with --until-caught-up --verify'],
  ])('refused with one line, exit 2: %j', async (args, line) => {
    writeFileSync(join(dir, 'backup.json'), '{"agents":[{"_id":"a"}]}');
    const result = await runCli(args.map((a) => (a === 'file:backup.json' ? `file:${join(dir, 'backup.json')}` : a)), cleanEnv());
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toBe(`gofannon-etl: ${line.replace('file:backup.json', `file:${join(dir, 'backup.json')}`)}\n`);
    expect(result.stdout).toBe('');
  });
});
