/**
 * `--workers N` through the built CLI, as an operator runs it: N child processes, one display, one
 * report, one exit code. To a file target the one export equals a single process's output document
 * for document; to DynamoDB Local every document arrives once; Ctrl-C to the parent stops every
 * child with its checkpoint, and the resume command it prints, pasted, completes exactly.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, inject, test, vi } from 'vitest';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import type { Doc, RunReport } from '../src/types.js';
import { uniquePrefix } from './corpus.js';
import { testCouchAdmin } from './servers/couchdb.js';
import { cleanEnv, cliPath, gateTransform, generatedDoc, type CliResult } from './generated-export.js';

const dynamoUrl = inject('dynamodbUrl');
const couchUrl = inject('couchdbUrl');
const dynamoUri = dynamoUrl.replace(/^http:/, 'dynamodb:');
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const dynamo = new DynamoDBClient({ endpoint: dynamoUrl, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
afterAll(() => dynamo.destroy());

const dir = mkdtempSync(join(tmpdir(), 'workers-'));
const at = (name: string) => join(dir, name);
const binDir = mkdtempSync(join(tmpdir(), 'workers-bin-'));
symlinkSync(cliPath, join(binDir, 'gofannon-etl'));

/** The process `spawned` started last (the parent of --workers, for the test that kills it). */
let lastPid = 0;
const parent = () => lastPid;

/** A process in `dir` (the CLI, or a shell a printed line is pasted into); `onStderr` sees stderr as it grows. */
function spawned(command: string, args: string[], env: NodeJS.ProcessEnv, onStderr?: (stderr: string, kill: (signal: NodeJS.Signals) => void) => void) {
  const child = spawn(command, args, { cwd: dir, env: { ...env, NO_COLOR: '1', PATH: `${binDir}:${env.PATH ?? ''}` }, stdio: ['ignore', 'pipe', 'pipe'] });
  lastPid = child.pid!;
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b) => (stdout += b));
  child.stderr.on('data', (b) => {
    stderr += b;
    onStderr?.(stderr, (signal) => child.kill(signal));
  });
  return new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

const cli = (args: string[], env = cleanEnv(), onStderr?: Parameters<typeof spawned>[3]) => spawned(process.execPath, [cliPath, ...args], env, onStderr);
const paste = (line: string, env = cleanEnv()) => spawned('sh', ['-c', line], env);

function ndjson(name: string, counts: Record<string, number>): string {
  const lines = Object.entries(counts).flatMap(([c, n]) => [JSON.stringify({ collection: c }), ...Array.from({ length: n }, (_, i) => JSON.stringify({ collection: c, doc: generatedDoc(c, i) }))]);
  // Numbers kept to the digit through the parts too.
  lines.push(JSON.stringify({ collection: 'numbers', doc: { _id: 'big' } }).replace('}}', ',"n":9007199254740993,"d":0.10000000000000000001}}'));
  writeFileSync(at(name), `${lines.join('\n')}\n`);
  return name;
}

function exportFile(name: string, counts: Record<string, number>): string {
  const data = Object.fromEntries(Object.entries(counts).map(([c, n]) => [c, Array.from({ length: n }, (_, i) => generatedDoc(c, i))]));
  writeFileSync(at(name), JSON.stringify({ metadata: { provider: 'couchdb', exported_at: '2026-01-11T10:00:00Z', collections: Object.keys(counts) }, data }, null, 2));
  return name;
}

/** An export's text without its time of writing, the one thing two runs rightly differ in. */
const timeless = (text: string) => text.replace(/"exported_at": ?"[^"]*"/, '"exported_at":""');
const textOf = (name: string) => timeless(name.endsWith('.gz') ? gunzipSync(readFileSync(at(name))).toString('utf8') : readFileSync(at(name), 'utf8'));

/** Documents per collection of an export or NDJSON file we wrote, each collection's sorted by _id. */
function docsOf(name: string): Record<string, string[]> {
  const text = textOf(name);
  const out: Record<string, string[]> = {};
  if (name.includes('.ndjson')) {
    for (const line of text.split('\n').filter(Boolean)) {
      const record = JSON.parse(line) as { collection?: string; doc?: Doc };
      if (record.collection) (out[record.collection] ??= []).push(...(record.doc ? [JSON.stringify(record.doc)] : []));
    }
  } else {
    for (const [c, docs] of Object.entries((JSON.parse(text) as { data: Record<string, Doc[]> }).data)) out[c] = docs.map((d) => JSON.stringify(d));
  }
  for (const docs of Object.values(out)) docs.sort();
  return out;
}

/** No part file is left next to the target. */
const partsLeft = () => readdirSync(dir).filter((f) => f.includes('.parts-'));

const gate = 'gate.mjs';
writeFileSync(at(gate), gateTransform);

async function tableCount(table: string): Promise<{ count: number; ids: string[] }> {
  const ids: string[] = [];
  let start: Record<string, never> | undefined;
  do {
    const page = await dynamo.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start, ProjectionExpression: '#i', ExpressionAttributeNames: { '#i': '_id' } }));
    for (const item of page.Items ?? []) ids.push(item._id!.S!);
    start = page.LastEvaluatedKey as typeof start;
  } while (start);
  return { count: ids.length, ids };
}

describe('--workers to a file target: one export, as one process writes it', () => {
  test('NDJSON -> NDJSON and -> .json.gz with --workers 2: the same text as one process (byte ranges keep the order), parts removed, 0600', async () => {
    // Several MB: the parts are read in 1 MiB chunks, so lines straddle chunks.
    const source = ndjson('in.ndjson', { agents: 7000, users: 3000, empty: 0, sessions: 5000 });
    for (const out of ['out.ndjson', 'out.json.gz']) {
      const single = await cli(['--from', `file:${source}`, '--to', `file:single-${out}`, '--quiet']);
      expect(single.code, single.stderr).toBe(0);
      const workers = await cli(['--from', `file:${source}`, '--to', `file:${out}`, '--workers', '2', '--report', `report-${out}.json`]);
      expect(workers.code, workers.stderr).toBe(0);
      expect(textOf(out)).toBe(textOf(`single-${out}`));
      expect(statSync(at(out)).mode & 0o777).toBe(0o600);
      const report = JSON.parse(readFileSync(at(`report-${out}.json`), 'utf8')) as RunReport;
      expect(report).toMatchObject({ ok: true, target: `file:${out}`, total: { read: 15001, written: 15001 } });
      expect(report.shard).toBeUndefined();
      // One summary, naming the target the user gave.
      expect(workers.stdout.match(/^total /gm)).toHaveLength(1);
      expect(workers.stdout).toContain(`-> file:${out}`);
      expect(workers.stdout).toContain(`To check the target document by document: gofannon-etl verify --from file:${source} --to file:${out}`);
    }
    expect(textOf('out.json.gz')).toContain('9007199254740993');
    expect(partsLeft()).toEqual([]);
  });

  test('a .json export (split by _id hash) -> .json with --workers 3: every collection holds the same documents as one process writes, and verify passes pasted', async () => {
    const source = exportFile('export.json', { agents: 400, users: 250, demos: 0 });
    expect((await cli(['--from', `file:${source}`, '--to', 'file:single.json', '--quiet'])).code).toBe(0);
    const workers = await cli(['--from', `file:${source}`, '--to', 'file:three.json', '--workers', '3']);
    expect(workers.code, workers.stderr).toBe(0);
    // What every shard says of the split (each naming its own index) is shown once.
    expect(workers.stderr.match(/has no native split point/g)).toHaveLength(1);
    // Said as the command the user typed: --workers, not a shard's own --shard k/N.
    expect(workers.stderr).toMatch(/^--workers 3: file:export\.json has no native split point, so every shard reads all of it and keeps the documents whose _id hashes to it: /m);
    expect(docsOf('three.json')).toEqual(docsOf('single.json'));
    expect(Object.keys(docsOf('three.json'))).toEqual(['agents', 'users', 'demos']);
    // To NDJSON too: every part holds every collection, so they are joined collection by collection.
    expect((await cli(['--from', `file:${source}`, '--to', 'file:single.ndjson', '--quiet'])).code).toBe(0);
    expect((await cli(['--from', `file:${source}`, '--to', 'file:three.ndjson', '--workers', '3', '--quiet'])).code).toBe(0);
    expect(docsOf('three.ndjson')).toEqual(docsOf('single.ndjson'));
    const lines = textOf('three.ndjson').split('\n').filter(Boolean);
    expect(lines.filter((l) => l.startsWith('{"collection":"agents"}'))).toHaveLength(1);
    expect(lines.map((l) => (JSON.parse(l) as { collection?: string }).collection).filter(Boolean)).toEqual([...Array(401).fill('agents'), ...Array(251).fill('users'), 'demos']);
    const verify = workers.stdout.split('\n').find((l) => l.startsWith('To check the target'))!.replace(/^[^:]*: /, '');
    const checked = await paste(verify);
    expect(checked.code, checked.stdout + checked.stderr).toBe(0);
    expect(partsLeft()).toEqual([]);
  });

  test('--workers 4 on three lines (some shards empty) with a collection named `we"ird": [x`: the same text as one process, both layouts', async () => {
    writeFileSync(at('weird.ndjson'), ['we"ird": [x', 'we"ird": [x', 'b'].map((c, i) => JSON.stringify({ collection: c, doc: { _id: String(i) } })).join('\n') + '\n');
    for (const out of ['weird.json', 'weird.ndjson.gz']) {
      expect((await cli(['--from', 'file:weird.ndjson', '--to', `file:single-${out}`, '--collections', '*', '--quiet'])).code).toBe(0);
      const workers = await cli(['--from', 'file:weird.ndjson', '--to', `file:${out}`, '--collections', '*', '--workers', '4', '--quiet']);
      expect(workers.code, workers.stderr).toBe(0);
      expect(textOf(out)).toBe(textOf(`single-${out}`));
    }
    expect(partsLeft()).toEqual([]);
  });

  test('to stdout (file:-.ndjson): the same bytes as one process writes there, and no parts left in the temp directory', async () => {
    const source = ndjson('to-stdout.ndjson', { agents: 300, users: 200 });
    const partDirectories = () => readdirSync(tmpdir()).filter((f) => f.startsWith('gofannon-etl-parts-'));
    const before = partDirectories();
    const single = await cli(['--from', `file:${source}`, '--to', 'file:-.ndjson']);
    const workers = await cli(['--from', `file:${source}`, '--to', 'file:-.ndjson', '--workers', '2']);
    expect(workers.code, workers.stderr).toBe(0);
    expect(timeless(workers.stdout.replace(/"exported_at":"[^"]*"/, '"exported_at":""'))).toBe(timeless(single.stdout.replace(/"exported_at":"[^"]*"/, '"exported_at":""')));
    expect(workers.stdout.split('\n').filter(Boolean)).toHaveLength(505);
    expect(partDirectories()).toEqual(before);
  });

  test('--dry-run: one plan for the whole run, naming the target the user gave, and no file written', async () => {
    const source = ndjson('dry.ndjson', { agents: 30, users: 30 });
    const result = await cli(['--from', `file:${source}`, '--to', 'file:dry-out.json', '--workers', '2', '--dry-run']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/agents\s+30\s+30\s+0\s+0\s+array "agents" in dry-out.json/);
    expect(result.stdout).not.toContain('.parts-');
    expect(existsSync(at('dry-out.json'))).toBe(false);
    expect(partsLeft()).toEqual([]);
  });

  test('a shard that dies leaves no target and no parts: exit 3, saying which shard', async () => {
    const source = ndjson('fails.ndjson', { agents: 50 });
    writeFileSync(at('die.mjs'), "export default (doc) => { if (doc._id === 'agents-000040') process.kill(process.pid, 'SIGKILL'); return doc; };\n");
    const result = await cli(['--from', `file:${source}`, '--to', 'file:never.json', '--workers', '2', '--transform', './die.mjs', '--report', 'died.json']);
    expect(result.code).toBe(3);
    expect(existsSync(at('never.json'))).toBe(false);
    expect(partsLeft()).toEqual([]);
    const report = JSON.parse(readFileSync(at('died.json'), 'utf8')) as RunReport;
    expect(report.ok).toBe(false);
    expect(report.error).toMatch(/shard \d\/2: its process ended \(signal SIGKILL\) without a report/);
    expect(result.stdout).toContain('Stopped by an error');
  });
});

describe('--workers to a database', () => {
  test('--workers 3 to DynamoDB Local: every document once, one merged report, and the printed verify passes', async () => {
    const prefix = `${uniquePrefix()}_`;
    const source = exportFile('to-dynamo.json', { agents: 300, users: 200 });
    const result = await cli(['--from', `file:${source}`, '--to', dynamoUri, '--table-prefix', prefix, '--workers', '3', '--report', 'dynamo-report.json', '--dead-letter', 'dynamo-dead.ndjson']);
    expect(result.code, result.stderr).toBe(0);
    for (const [c, n] of [['agents', 300], ['users', 200]] as const) {
      const { count, ids } = await tableCount(`${prefix}${c}`);
      expect(count).toBe(n);
      expect(new Set(ids).size).toBe(n);
    }
    const report = JSON.parse(readFileSync(at('dynamo-report.json'), 'utf8')) as RunReport;
    expect(report).toMatchObject({ ok: true, total: { read: 500, written: 500, failed: 0 }, deadLetters: { count: 0 } });
    const verify = result.stdout.split('\n').find((l) => l.startsWith('To check the target'))!.replace(/^[^:]*: /, '');
    expect(verify).not.toContain('--workers');
    const checked = await paste(verify);
    expect(checked.code, checked.stdout + checked.stderr).toBe(0);
  });

  test('--workers 3 from CouchDB (configured as the app is: COUCHDB_URL, COUCHDB_USER, COUCHDB_PASSWORD) to a .json export: every document once, the same as one process, no password printed', async () => {
    const prefix = uniquePrefix();
    const [agents, users] = [`${prefix}_agents`, `${prefix}_users`];
    const env = cleanEnv({ COUCHDB_URL: couchUrl, COUCHDB_USER: testCouchAdmin.user, COUCHDB_PASSWORD: testCouchAdmin.password });
    const seed = ndjson('couch-seed.ndjson', { [agents]: 250, [users]: 150 });
    expect((await cli(['--from', `file:${seed}`, '--to', 'couchdb', '--collections', `${agents},${users}`, '--quiet'], env)).code).toBe(0);
    const selection = ['--from', 'couchdb', '--collections', `${agents},${users}`];
    expect((await cli([...selection, '--to', 'file:couch-one.json', '--quiet'], env)).code).toBe(0);
    const workers = await cli([...selection, '--to', 'file:couch-three.json', '--workers', '3', '--report', 'couch-report.json'], env);
    expect(workers.code, workers.stderr).toBe(0);
    expect(docsOf('couch-three.json')).toEqual(docsOf('couch-one.json'));
    expect(docsOf('couch-three.json')[agents]).toHaveLength(250);
    expect(new Set(docsOf('couch-three.json')[users]!.map((d) => (JSON.parse(d) as Doc)._id)).size).toBe(150);
    expect(JSON.parse(readFileSync(at('couch-report.json'), 'utf8'))).toMatchObject({ ok: true, total: { read: 400, written: 400 } });
    expect(workers.stdout + workers.stderr + readFileSync(at('couch-report.json'), 'utf8')).not.toContain(testCouchAdmin.password);
  });

  test('Ctrl-C to the parent: every child stops with its checkpoint, one progress display; the printed resume, pasted, completes exactly', async () => {
    const prefix = `${uniquePrefix()}_`;
    const source = ndjson('stop.ndjson', { agents: 3000, users: 1000 });
    // Shard 1 is held; shard 0 runs to its end: the resume must run shard 1 only, and still report the whole.
    const env = cleanEnv({ GATE_AT: '700', GATE_SHARD: '1/2' });
    const args = ['--from', `file:${source}`, '--to', dynamoUri, '--table-prefix', prefix, '--workers', '2', '--checkpoint', 'stop.ckpt', '--report', 'stop-report.json', '--transform', `./${gate}`];
    const shard0Done = () => existsSync(at('stop.shard-0-of-2.ckpt')) && (JSON.parse(readFileSync(at('stop.shard-0-of-2.ckpt'), 'utf8')) as { complete?: boolean }).complete === true;
    let interrupted = false;
    const stopped = await cli(args, env, (stderr, kill) => {
      const progressLines = stderr.split('\n').filter((l) => /^\[\d+:\d\d\] /.test(l)).length;
      // Shard 1 held, shard 0 finished, and a progress line shown (a non-terminal run prints one every 5 s): then Ctrl-C.
      if (!interrupted && stderr.includes('gate reached') && progressLines > 0 && shard0Done()) {
        interrupted = true;
        kill('SIGINT');
      }
    });
    expect(stopped.code, stopped.stderr).toBe(130);
    // One display: the parent's lines, each child's announcement not repeated.
    expect(stopped.stderr.match(/stopping: finishing the batches/g)).toHaveLength(1);
    expect(stopped.stderr.match(/gate reached/g)).toHaveLength(1);
    const line = stopped.stderr.split('\n').find((l) => /^\[\d+:\d\d\] /.test(l))!;
    // Counted over both shards: at least shard 0's share (its ~half of 4001 documents) and input as a share of the whole file.
    const total = Number(/total (\d+) docs/.exec(line)![1]);
    expect(total).toBeGreaterThan(0);
    expect(line).toMatch(/input \d+%/);
    expect(existsSync(at('stop.shard-0-of-2.ckpt')) && existsSync(at('stop.shard-1-of-2.ckpt'))).toBe(true);
    const partial = JSON.parse(readFileSync(at('stop-report.json'), 'utf8')) as RunReport;
    expect(partial).toMatchObject({ ok: false, interrupted: true });
    expect(partial.total.read).toBeLessThan(4001);

    const resume = stopped.stdout.split('\n').find((l) => l.startsWith('To continue where it stopped:'))!.replace(/^[^:]*: /, '');
    expect(resume).toBe(`gofannon-etl --from file:${source} --to ${dynamoUri} --transform ./${gate} --table-prefix ${prefix} --report stop-report.json --checkpoint stop.ckpt --workers 2 --resume`);
    const resumed = await paste(resume, cleanEnv());
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain('including');
    const whole = JSON.parse(readFileSync(at('stop-report.json'), 'utf8')) as RunReport;
    expect(whole).toMatchObject({ ok: true, interrupted: false, total: { read: 4001, written: 4001, failed: 0 } });
    expect((await tableCount(`${prefix}agents`)).count).toBe(3000);
    expect((await tableCount(`${prefix}users`)).count).toBe(1000);
    // Shard 0 had finished: it was not run again (its child would have refused a finished checkpoint).
    expect(resumed.stderr).not.toContain('already completed');
    const again = await paste(resume, cleanEnv());
    expect(again.code).toBe(2);
    expect(again.stderr.trim()).toBe('gofannon-etl: checkpoint stop.ckpt says this migration already completed (every shard\'s); delete stop.shard-0-of-2.ckpt… to run again');
    const otherCount = await cli([...args.map((a) => (a === '2' ? '3' : a)), '--resume']);
    expect(otherCount.code).toBe(2);
    expect(otherCount.stderr.trim()).toBe('gofannon-etl: --resume: no checkpoint of --workers 3 (stop.shard-0-of-3.ckpt, …): resume with the --workers the run was started with');
  }, 60_000);
});

describe('a parent killed outright', () => {
  test('SIGKILL to the parent: its children stop as on Ctrl-C, saving their checkpoints, and --workers 2 --resume completes exactly', async () => {
    const source = ndjson('orphans.ndjson', { agents: 1500, users: 1500 });
    const args = ['--from', `file:${source}`, '--to', 'null', '--workers', '2', '--checkpoint', 'orphans.ckpt', '--report', 'orphans.json', '--transform', `./${gate}`];
    let children: number[] = [];
    const killed = await cli(args, cleanEnv({ GATE_AT: '400' }), (stderr, kill) => {
      if (children.length > 0 || !stderr.includes('gate reached')) return;
      children = execFileSync('pgrep', ['-P', String(parent())]).toString().trim().split('\n').map(Number);
      kill('SIGKILL');
    });
    expect(killed.signal).toBe('SIGKILL');
    expect(children).toHaveLength(2);
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await vi.waitFor(() => expect(children.filter(alive)).toEqual([]), { timeout: 30_000, interval: 50 });
    // Both saved a checkpoint; the one held at the gate is unfinished (the other may have reached its end meanwhile).
    const saved = [0, 1].map((k) => JSON.parse(readFileSync(at(`orphans.shard-${k}-of-2.ckpt`), 'utf8')) as { complete: boolean });
    expect(saved.some((checkpoint) => !checkpoint.complete)).toBe(true);
    const resumed = await cli([...args, '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(readFileSync(at('orphans.json'), 'utf8'))).toMatchObject({ ok: true, total: { read: 3001, written: 3001 } });
  });
});

describe('--quiet', () => {
  test('nothing but errors: no progress, no summary, from the parent or any child', async () => {
    const source = ndjson('quiet.ndjson', { agents: 200 });
    const result = await cli(['--from', `file:${source}`, '--to', 'file:quiet-out.ndjson', '--workers', '2', '--quiet']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe('');
    expect(docsOf('quiet-out.ndjson').agents).toHaveLength(200);
  });
});

describe('what --workers refuses, in one line (exit 2)', () => {
  test.each([
    [['--from', '-', '--to', 'null', '--workers', '2'], 'stdin can be read only once'],
    [['--from', 'file:x.ndjson', '--to', 'null', '--workers', '2', '--shard', '0/2'], '--workers runs the shards itself'],
    [['--from', 'couchdb', '--to', 'null', '--workers', '2', '--follow'], '--workers and --follow do not go together'],
    [['--from', 'file:x.ndjson', '--to', 'null', '--workers', '0'], '--workers must be a whole number of at least 1, not 0'],
    // A word arrives as NaN: the line does not echo that.
    [['--from', 'file:x.ndjson', '--to', 'null', '--workers', 'two'], 'gofannon-etl: --workers must be a whole number of at least 1\n'],
    [['--from', 'file:x.ndjson', '--to', 'file:/nonexistent-dir/out.json', '--workers', '2'], 'the directory /nonexistent-dir does not exist'],
    [['--from', 'file:x.ndjson', '--to', 'null', '--workers', '2', '--report', '/nonexistent-dir/r.json'], '--report /nonexistent-dir/r.json: the directory /nonexistent-dir does not exist'],
  ])('%j', async (args, says) => {
    const result = await cli(args);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(says);
  });

  test('an empty file: nothing to read, as one process says, though each shard\'s share may rightly be empty', async () => {
    writeFileSync(at('empty.ndjson'), '');
    const result = await cli(['--from', 'file:empty.ndjson', '--to', 'null', '--workers', '2']);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe('gofannon-etl: nothing to read: found no collections at file:empty.ndjson');
  });

  test('a named collection no shard found is refused, as one process refuses it, and no target is left', async () => {
    const source = ndjson('named.ndjson', { agents: 20 });
    const result = await cli(['--from', `file:${source}`, '--to', 'file:named-out.json', '--workers', '2', '--collections', 'agents,nope']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`^gofannon-etl: file:${source} holds no collection nope`, 'm'));
    expect(existsSync(at('named-out.json'))).toBe(false);
    expect(partsLeft()).toEqual([]);
  });
});

vi.setConfig({ testTimeout: 60_000 });
