/**
 * `--shard` through the built CLI as a job array runs it: COUNT processes started at the same time
 * with the same command line and their own index read every document exactly once (NDJSON by byte
 * ranges, gzipped NDJSON by line numbers, a `.json` export by hashing `_id`s), each into its own
 * files; a shard SIGKILLed mid-way and rerun with its index and --resume completes the union; the
 * commands a shard prints work pasted; what cannot be sharded is refused in one line.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, inject, test } from 'vitest';
import type { CheckpointData } from '../src/pipeline/checkpoint.js';
import type { RunReport } from '../src/types.js';
import { uniquePrefix } from './corpus.js';
import { cleanEnv, cliPath, gateTransform, generatedDoc, type CliResult } from './generated-export.js';

const dynamoUri = inject('dynamodbUrl').replace(/^http:/, 'dynamodb:');
const dir = mkdtempSync(join(tmpdir(), 'shards-cli-'));
const binDir = mkdtempSync(join(tmpdir(), 'shards-cli-bin-'));
symlinkSync(cliPath, join(binDir, 'gofannon-etl'));

/** Starts a command in `dir`; `onStderr` sees stderr as it grows (to stop the process at a gate). */
function started(command: string, args: string[], env: NodeJS.ProcessEnv, onStderr?: (stderr: string, kill: (signal: NodeJS.Signals) => void) => void, input?: string): Promise<CliResult> {
  const child = spawn(command, args, { cwd: dir, env: { ...env, NO_COLOR: '1', PATH: `${binDir}:${env.PATH ?? ''}` } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b) => (stdout += b));
  child.stderr.on('data', (b) => {
    stderr += b;
    // Once: a second SIGTERM quits at once, as a second Ctrl-C does.
    onStderr?.(stderr, (signal) => void (child.killed || child.kill(signal)));
  });
  // A process that refuses its run exits without reading what it was given.
  child.stdin.on('error', () => {});
  child.stdin.end(input);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

const cli = (args: string[], env: NodeJS.ProcessEnv = cleanEnv(), input?: string) => started(process.execPath, [cliPath, ...args], env, undefined, input);
const paste = (line: string, env: NodeJS.ProcessEnv = cleanEnv()) => started('sh', ['-c', line], env);

/** Shard `index` of `count` of the same command line, as a job array starts it. */
const shardArgs = (args: string[], index: number, count: number) => [...args, '--shard', `${index}/${count}`];

/** Runs COUNT shards at the same time; each must succeed. */
async function runShards(args: string[], count: number): Promise<CliResult[]> {
  const results = await Promise.all(Array.from({ length: count }, (_, index) => cli(shardArgs(args, index, count))));
  results.forEach((r, index) => expect(r.code, `shard ${index}/${count}: ${r.stderr}`).toBe(0));
  return results;
}

const counts = { agents: 1500, users: 2500, tickets: 1000 };
const total = Object.values(counts).reduce((a, b) => a + b, 0);
const data = Object.fromEntries(Object.entries(counts).map(([c, n]) => [c, Array.from({ length: n }, (_, i) => generatedDoc(c, i))]));

/** Our NDJSON of `data` (an empty collection among them), as our file sink writes it. */
function ndjson(): string {
  const lines = Object.entries(data).flatMap(([collection, docs]) => docs.map((doc) => JSON.stringify({ collection, doc })));
  lines.splice(counts.agents, 0, JSON.stringify({ collection: 'demos' }));
  return `${lines.join('\n')}\n${JSON.stringify({ metadata: { provider: 'memory', exported_at: '2026-01-11T10:00:00Z', collections: [...Object.keys(data), 'demos'] } })}\n`;
}

const sourceNdjson = join(dir, 'in.ndjson');
writeFileSync(sourceNdjson, ndjson());
writeFileSync(join(dir, 'in.ndjson.gz'), gzipSync(ndjson()));
writeFileSync(join(dir, 'in.json'), JSON.stringify({ metadata: { provider: 'memory', exported_at: '2026-01-11T10:00:00Z', collections: Object.keys(data) }, data }, null, 2));

/** Every `collection/_id\tdocument` line of an NDJSON file we wrote. */
function docsOf(file: string): string[] {
  return readFileSync(join(dir, file), 'utf8').split('\n').filter((l) => l.includes('"doc"')).map((l) => {
    const { collection, doc } = JSON.parse(l) as { collection: string; doc: { _id: string } };
    return `${collection}/${doc._id}\t${JSON.stringify(doc)}`;
  });
}

const expected = Object.entries(data).flatMap(([c, docs]) => docs.map((doc) => `${c}/${doc._id}\t${JSON.stringify(doc)}`)).sort();
const readJson = <T>(file: string) => JSON.parse(readFileSync(join(dir, file), 'utf8')) as T;

/** The shards' outputs hold every document of the source exactly once, none empty; their reports add up. */
function expectExactUnion(name: string, count: number): void {
  const parts = Array.from({ length: count }, (_, index) => docsOf(`${name}.shard-${index}-of-${count}.ndjson`));
  for (const part of parts) expect(part.length, `a shard of ${count} read nothing`).toBeGreaterThan(total / count / 3);
  expect(parts.flat().sort()).toEqual(expected);
  const reports = Array.from({ length: count }, (_, index) => readJson<RunReport>(`${name}-report.shard-${index}-of-${count}.json`));
  reports.forEach((report, index) => expect(report.shard).toEqual({ index, count }));
  expect(reports.reduce((n, r) => n + r.total.written, 0)).toBe(total);
  for (let index = 0; index < count; index++) expect(readJson<CheckpointData>(`${name}-run.shard-${index}-of-${count}.ckpt`).settings?.['--shard']).toBe(`${index}/${count}`);
}

describe('shards started side by side read every document exactly once', () => {
  test.each([1, 3, 4])('NDJSON by byte ranges, COUNT %i', async (count) => {
    const name = `nd${count}`;
    await runShards(['--from', 'file:in.ndjson', '--to', `file:${name}.ndjson`, '--report', `${name}-report.json`, '--checkpoint', `${name}-run.ckpt`, '--quiet'], count);
    expectExactUnion(name, count);
    // The empty collection is announced by the one shard whose range holds its line.
    const announcing = Array.from({ length: count }, (_, i) => readFileSync(join(dir, `${name}.shard-${i}-of-${count}.ndjson`), 'utf8')).filter((t) => t.includes('{"collection":"demos"}'));
    expect(announcing).toHaveLength(1);
  });

  test('gzipped NDJSON by line numbers, COUNT 3', async () => {
    await runShards(['--from', 'file:in.ndjson.gz', '--to', 'file:gz.ndjson', '--report', 'gz-report.json', '--checkpoint', 'gz-run.ckpt', '--quiet'], 3);
    expectExactUnion('gz', 3);
  });

  test('a gzipped NDJSON file, which cannot list its collections, checks --collections by reading whole and hashing', async () => {
    const results = await runShards(['--from', 'file:in.ndjson.gz', '--to', 'file:gzc.ndjson', '--collections', 'users', '--quiet'], 2);
    expect(results[1]!.stderr).toContain(
      '--shard 1/2: file:in.ndjson.gz cannot list its collections before reading, so only a whole read can check --collections users: every shard reads all of it and keeps the documents whose _id hashes to shard 1 (without --collections it would read its part only)',
    );
    const parts = [0, 1].map((i) => docsOf(`gzc.shard-${i}-of-2.ndjson`));
    expect(parts.flat().sort()).toEqual(expected.filter((line) => line.startsWith('users/')));
    // A name the file does not hold is refused by every shard, as by a whole run.
    const typo = await Promise.all([0, 1].map((i) => cli(shardArgs(['--from', 'file:in.ndjson.gz', '--to', 'null', '--collections', 'users,usres', '--quiet'], i, 2))));
    for (const result of typo) {
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/file:in\.ndjson\.gz holds no collection usres; it holds/);
    }
  });

  test('a .json export by hashing _id, COUNT 3, saying so and what it costs', async () => {
    const results = await runShards(['--from', 'file:in.json', '--to', 'file:js.ndjson', '--report', 'js-report.json', '--checkpoint', 'js-run.ckpt'], 3);
    expectExactUnion('js', 3);
    expect(results[2]!.stderr).toContain(
      '--shard 2/3: file:in.json has no native split point, so every shard reads all of it and keeps the documents whose _id hashes to shard 2: this spreads transforming and writing over the shards, not reading (an NDJSON file splits by byte ranges instead: convert it once with --to file:NAME.ndjson)',
    );
    expect(results[0]!.stdout).toMatch(/Done in [\d.]+ s, .*: file:in\.json -> file:js\.shard-0-of-3\.ndjson \(shard 0\/3\)/);
    // Each part holds every collection: joined as printed, the lines are grouped again, so the
    // joined file copies to a file target (which takes each collection in one run) and verifies.
    const joinLine = /joined into one: (.*)\)$/m.exec(results[0]!.stdout)?.[1];
    expect((await paste(joinLine!)).code).toBe(0);
    const copy = await cli(['--from', 'file:js.ndjson', '--to', 'file:js-copy.json', '--quiet']);
    expect(copy.code, copy.stderr).toBe(0);
    const check = await cli(['verify', '--from', 'file:in.json', '--to', 'file:js-copy.json']);
    expect(check.code, check.stdout).toBe(0);
  });

  test('another tool\'s backup (couchbackup) by hashing _id, COUNT 2', async () => {
    const agents = data.agents!;
    const lines = [JSON.stringify({ name: '@cloudant/couchbackup', version: '2.11.12', mode: 'full' })];
    for (let i = 0; i < agents.length; i += 500) lines.push(JSON.stringify(agents.slice(i, i + 500).map((doc) => ({ ...doc, _rev: '1-a' }))));
    writeFileSync(join(dir, 'agents.txt'), `${lines.join('\n')}\n`);
    const results = await runShards(['--from', 'file:agents.txt', '--to', 'file:cb.ndjson', '--quiet'], 2);
    expect(results[1]!.stderr).toMatch(/--shard 1\/2: file:agents\.txt has no native split point/);
    const parts = [0, 1].map((i) => docsOf(`cb.shard-${i}-of-2.ndjson`));
    for (const part of parts) expect(part.length).toBeGreaterThan(agents.length / 4);
    expect(parts.flat().sort()).toEqual(expected.filter((line) => line.startsWith('agents/')));
  });

  test('a document without a usable _id is dead-lettered by shard 0 alone', async () => {
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ metadata: { provider: 'memory', exported_at: 'x', collections: ['agents'] }, data: { agents: [{ _id: 'a' }, { name: 'no id' }, { _id: 'b' }, { _id: 'c' }] } }));
    const results = await Promise.all([0, 1, 2].map((i) => cli(shardArgs(['--from', 'file:bad.json', '--to', 'null', '--dead-letter', 'bad-dl.ndjson', '--quiet'], i, 3))));
    expect(results.map((r) => r.code)).toEqual([1, 0, 0]);
    expect(readFileSync(join(dir, 'bad-dl.shard-0-of-3.ndjson'), 'utf8')).toMatch(/document has no _id/);
    expect(existsSync(join(dir, 'bad-dl.shard-1-of-3.ndjson')) && readFileSync(join(dir, 'bad-dl.shard-1-of-3.ndjson'), 'utf8')).toBeFalsy();
  });
});

writeFileSync(join(dir, 'gate.mjs'), gateTransform);

/** Documents the checkpoint counts as written. */
function writtenIn(file: string): number {
  try {
    return Object.values(readJson<CheckpointData>(file).stats).reduce((n, s) => n + s.written, 0);
  } catch {
    return 0;
  }
}

test('shards\' NDJSON files joined with their metadata lines are refused (exit 3), never read in part; the join and verify a shard prints, pasted, check the whole', async () => {
  const results = await runShards(['--from', 'file:in.ndjson', '--to', 'file:join.ndjson'], 2);
  const parts = [0, 1].map((i) => readFileSync(join(dir, `join.shard-${i}-of-2.ndjson`), 'utf8'));
  writeFileSync(join(dir, 'joined-cat.ndjson'), parts.join(''));
  const refused = await cli(['--from', 'file:joined-cat.ndjson', '--to', 'null']);
  expect(refused.code).toBe(3);
  expect(refused.stderr).toMatch(/^gofannon-etl: joined-cat\.ndjson: line 1: collection "agents" is not among those the file's metadata line lists \(users, tickets; files joined into one must leave their \{"metadata"\} lines out\)/);

  const verifyLine = /To check the target document by document: (.*)/.exec(results[0]!.stdout)?.[1];
  expect(verifyLine).toBe('gofannon-etl verify --from file:in.ndjson --to file:join.ndjson');
  const joinLine = /\(once all 2 shards have finished, on their files joined into one: (.*)\)$/m.exec(results[0]!.stdout)?.[1];
  expect(joinLine).toBe(`cat join.shard-*-of-2.ndjson | grep -v '^{"metadata"' | LC_ALL=C sort -s -t'"' -k4,4 > join.ndjson`);
  expect((await paste(joinLine!)).code).toBe(0);
  const check = await paste(verifyLine!);
  expect(check.code, check.stdout + check.stderr).toBe(0);
  expect(check.stdout).toContain('Identical');
});

test('a shard writes to its own stdout as it is, and renames a bare path as a file: target', async () => {
  const out = await cli(['--from', 'file:in.ndjson', '--to', 'file:-.ndjson', '--shard', '1/2']);
  expect(out.code, out.stderr).toBe(0);
  const bare = await cli(['--from', 'file:in.ndjson', '--to', 'bare.ndjson', '--shard', '0/2', '--quiet']);
  expect(bare.code, bare.stderr).toBe(0);
  const lines = (text: string) => text.split('\n').filter((l) => l.includes('"doc"'));
  expect(lines(out.stdout).length + lines(readFileSync(join(dir, 'bare.shard-0-of-2.ndjson'), 'utf8')).length).toBe(total);
  expect(readdirSync(dir)).not.toContain('bare.ndjson');
});

describe('a stopped shard continues with its index and --resume', () => {
  test('SIGKILLed mid-way, rerun with its index and --resume: the shards\' union in DynamoDB is exact', async () => {
    const prefix = `${uniquePrefix()}_`;
    const args = ['--from', 'file:in.ndjson', '--to', dynamoUri, '--table-prefix', prefix, '--checkpoint', `${prefix}run.ckpt`, '--report', `${prefix}r.json`, '--transform', './gate.mjs', '--quiet'];
    const checkpoint = `${prefix}run.shard-1-of-3.ckpt`;
    // Shard 1 stops at its 1200th document; once its checkpoint holds what came before, it is killed.
    const killed = started(process.execPath, [cliPath, ...shardArgs(args, 1, 3)], cleanEnv({ GATE_AT: '1200' }), (stderr, kill) => {
      if (!stderr.includes('gate reached')) return;
      const poll = () => (writtenIn(checkpoint) > 0 ? kill('SIGKILL') : setTimeout(poll, 20));
      poll();
    });
    const others = [0, 2].map((i) => cli(shardArgs(args, i, 3)));
    expect((await killed).signal).toBe('SIGKILL');
    for (const other of await Promise.all(others)) expect(other.code, other.stderr).toBe(0);
    expect(readJson<CheckpointData>(checkpoint).complete).toBe(false);
    const before = writtenIn(checkpoint);
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThan(1200);

    const resumed = await cli([...shardArgs(args, 1, 3), '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const reports = [0, 1, 2].map((i) => readJson<RunReport>(`${prefix}r.shard-${i}-of-3.json`));
    // The resumed shard's report covers its whole share, the earlier run's part included.
    expect(reports[1]!.earlier?.written).toBe(before);
    expect(reports.reduce((n, r) => n + r.total.written, 0)).toBe(total);
    const check = await cli(['verify', '--from', 'file:in.ndjson', '--to', dynamoUri, '--table-prefix', prefix, '--transform', './gate.mjs']);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toContain('Identical');
  });

  test('--shard auto/COUNT stopped with SIGTERM prints a resume with the index it ran as; pasted, it completes; the printed verify checks the whole', async () => {
    const prefix = `${uniquePrefix()}_`;
    const args = ['--from', 'file:in.ndjson', '--to', dynamoUri, '--table-prefix', prefix, '--checkpoint', `${prefix}run.ckpt`, '--transform', './gate.mjs'];
    const stopped = await started(process.execPath, [cliPath, ...args, '--shard', 'auto/2'], cleanEnv({ GATE_AT: '700', JOB_COMPLETION_INDEX: '1' }), (stderr, kill) => {
      if (stderr.includes('gate reached')) kill('SIGTERM');
    });
    expect(stopped.code, stopped.stderr).toBe(130);
    const resume = /To continue where it stopped: (.*)/.exec(stopped.stdout)?.[1];
    expect(resume, stopped.stdout).toBeDefined();
    expect(resume).toBe(`gofannon-etl --from file:in.ndjson --to ${dynamoUri} --transform ./gate.mjs --table-prefix ${prefix} --checkpoint ${prefix}run.ckpt --shard 1/2 --resume`);
    // Pasted where no runner sets the index: it continues shard 1's checkpoint.
    const continued = await paste(resume!);
    expect(continued.code, continued.stderr).toBe(0);
    expect(continued.stdout).toMatch(/including \d+ documents written by the earlier run/);
    const other = await cli([...args, '--shard', '0/2']);
    expect(other.code, other.stderr).toBe(0);
    const verifyLine = /To check the target document by document: (.*)/.exec(other.stdout)?.[1];
    expect(verifyLine).toBe(`gofannon-etl verify --from file:in.ndjson --to ${dynamoUri} --transform ./gate.mjs --table-prefix ${prefix}`);
    expect(other.stdout).toContain('(once all 2 shards have finished: it compares the whole source with the whole target)');
    const check = await paste(verifyLine!);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toContain('Identical');
  });

  test('a shard\'s checkpoint is not continued by another shard, even copied to its file name', async () => {
    const args = ['--from', 'file:in.ndjson', '--to', 'null', '--checkpoint', 'mine.ckpt', '--quiet'];
    expect((await cli(shardArgs(args, 0, 2))).code).toBe(0);
    copyFileSync(join(dir, 'mine.shard-0-of-2.ckpt'), join(dir, 'mine.shard-1-of-2.ckpt'));
    const other = await cli([...shardArgs(args, 1, 2), '--resume']);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/belongs to another run: its --shard was 0\/2, this run's is 1\/2/);
  });
});

describe('what cannot be sharded is refused in one line (exit 2)', () => {
  test.each([
    [['--from', 'file:in.ndjson', '--to', 'null', '--shard', '4/4'], /^gofannon-etl: --shard 4\/4: INDEX must be from 0 to 3/],
    [['--from', 'file:in.ndjson', '--to', 'null', '--shard', 'auto/4'], /^gofannon-etl: --shard auto\/4: neither JOB_COMPLETION_INDEX/],
    [['--from', 'file:in.ndjson', '--to', 'null', '--shard', 'two/4'], /^gofannon-etl: --shard two\/4: expected INDEX\/COUNT/],
    [['--from', 'file:in.ndjson', '--to', dynamoUri, '--shard', '0/2', '--verify'], /^gofannon-etl: --verify with --shard: verify checks the whole target/],
    [['--from', '-', '--to', 'null', '--shard', '0/2'], /^gofannon-etl: --shard 0\/2: file:- is a stream read once and cannot be shared between shards; save it to a file first/],
  ])('%j', async (args, message) => {
    const result = await cli(args, cleanEnv(), readFileSync(sourceNdjson, 'utf8'));
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(message)]);
  });

  test('the report of a refused shard is still written, under the shard\'s name when it has one', async () => {
    const refused = await cli(['--from', '-', '--to', 'null', '--shard', '1/2', '--report', 'refused.json'], cleanEnv(), '');
    expect(refused.code).toBe(2);
    expect(readJson<RunReport>('refused.shard-1-of-2.json')).toMatchObject({ ok: false, shard: { index: 1, count: 2 }, error: expect.stringMatching(/cannot be shared between shards/) });
    expect(readdirSync(dir)).not.toContain('refused.json');
  });
});
