/**
 * What the tool tells a user to do next, and what it refuses, through the built CLI on the real
 * servers: the commands it prints are pasted into a shell and do what they say; a target that
 * cannot take the run is found before the first document; checkpoints are never replaced or
 * continued by another run; reports cover the whole migration and say why a run failed.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { CreateTableCommand, DeleteTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, describe, expect, inject, test } from 'vitest';
import { notRepeated } from '../src/cli/commands.js';
import { commonOptions, migrateOptions } from '../src/cli/options.js';
import type { RunReport } from '../src/types.js';
import { uniquePrefix } from './corpus.js';
import { cleanEnv, cliPath, gateTransform, generatedDoc, type CliResult } from './generated-export.js';
import { basicAuthorization } from './servers/couchdb.js';

const dynamoUrl = inject('dynamodbUrl');
const dynamoUri = dynamoUrl.replace(/^http:/, 'dynamodb:');
const couchUrl = inject('couchdbUrl');
const dir = mkdtempSync(join(tmpdir(), 'run-control-'));
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const dynamo = new DynamoDBClient({ endpoint: dynamoUrl, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
afterAll(() => dynamo.destroy());

/** A directory holding `gofannon-etl`, for the PATH of a shell the printed commands are pasted into. */
const binDir = mkdtempSync(join(tmpdir(), 'run-control-bin-'));
symlinkSync(cliPath, join(binDir, 'gofannon-etl'));

function spawned(command: string, args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<CliResult> {
  const child = spawn(command, args, { cwd: dir, env: { ...env, NO_COLOR: '1', PATH: `${binDir}:${env.PATH ?? ''}` } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b) => (stdout += b));
  child.stderr.on('data', (b) => (stderr += b));
  child.stdin.end(input);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** The built CLI, run in `dir`. */
const cli = (args: string[], env: NodeJS.ProcessEnv = cleanEnv(), input?: string) => spawned(process.execPath, [cliPath, ...args], env, input);

/** A line the tool printed, pasted into a shell as the user would. */
const paste = (line: string, env: NodeJS.ProcessEnv = cleanEnv()) => spawned('sh', ['-c', line], env);

/** The command printed after `label`, e.g. "To check the target document by document:". */
function printed(output: string, label: string): string {
  const line = output.split('\n').find((l) => l.startsWith(label));
  expect(line, `no "${label}" line in:\n${output}`).toBeDefined();
  return line!.slice(label.length).trim();
}

const verifyLabel = 'To check the target document by document:';
const resumeLabel = 'To continue where it stopped:';

function exportOf(counts: Record<string, number>, metadataLast = false): string {
  const data = Object.fromEntries(Object.entries(counts).map(([c, n]) => [c, Array.from({ length: n }, (_, i) => ({ ...generatedDoc(c, i), _rev: `1-${i}` }))]));
  const metadata = { provider: 'couchdb', exported_at: '2026-01-11T10:00:00Z', collections: Object.keys(counts) };
  return JSON.stringify(metadataLast ? { data, metadata } : { metadata, data }, null, 2);
}

function file(name: string, text: string | Buffer): string {
  writeFileSync(join(dir, name), text);
  return name;
}

const readReport = (name: string) => JSON.parse(readFileSync(join(dir, name), 'utf8')) as RunReport;

async function tableKeyedId(name: string): Promise<void> {
  await dynamo.send(new CreateTableCommand({
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST',
    KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
    AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
  }));
}

file('gate.mjs', gateTransform);

/** Runs the CLI through the gate, stopped with SIGTERM at document `at`. */
function stoppedAt(args: string[], at: number, input?: string): Promise<CliResult> {
  const child = spawn(process.execPath, [cliPath, ...args, '--transform', './gate.mjs'], { cwd: dir, env: { ...cleanEnv({ GATE_AT: String(at) }), NO_COLOR: '1' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b) => (stdout += b));
  child.stderr.on('data', (b) => {
    stderr += b;
    if (stderr.includes('gate reached') && !child.killed) child.kill('SIGTERM');
  });
  child.stdin.end(input);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

async function tableExists(name: string): Promise<boolean> {
  try {
    await dynamo.send(new DescribeTableCommand({ TableName: name }));
    return true;
  } catch {
    return false;
  }
}

describe('the commands the tool prints', () => {
  test('every option migrate takes is either taken by verify or named as one the printed verify leaves out', () => {
    const takenByVerify = new Set(Object.keys(commonOptions));
    const leftOut = new Set<string>(notRepeated.verify);
    expect(Object.keys(migrateOptions).filter((o) => !takenByVerify.has(o) && !leftOut.has(o))).toEqual([]);
  });

  test('the printed verify repeats what changes the comparison (--table-prefix, transforms, selection), not the run\'s own options, and works pasted', async () => {
    const prefix = `${uniquePrefix()}_`;
    const source = file(`${prefix}in.json`, exportOf({ agents: 30, users: 20, sessions: 5 }));
    // A transform that changes every document: a verify without it would find them all changed.
    file('mark.mjs', 'export default (doc) => ({ ...doc, migrated: true });\n');
    const run = await cli(['--from', `file:${source}`, '--to', dynamoUri, '--table-prefix', prefix, '--collections', 'agents,users',
      '--transform', './mark.mjs', '--keep-couch-meta', '--checkpoint', `${prefix}ckpt.json`, '--report', `${prefix}report.json`,
      '--dead-letter', `${prefix}dead.ndjson`, '--concurrency', '2', '--on-conflict', 'overwrite', '--retries', '3']);
    expect(run.code, run.stderr).toBe(0);
    const line = printed(run.stdout, verifyLabel);
    expect(line).toBe(`gofannon-etl verify --from file:${source} --to ${dynamoUri} --collections agents,users --transform ./mark.mjs --keep-couch-meta --table-prefix ${prefix} --retries 3`);
    const verified = await paste(line);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(/agents\s+30\s+30\s+30\s+0\s+0\s+0/);
    expect(verified.stdout).toContain('Identical');
    // Its own --report would have overwritten the run's.
    expect(readReport(`${prefix}report.json`)).toMatchObject({ ok: true, total: { written: 50 } });
  });

  test('a password in a URI is never printed: the verify line leaves it out, says where to put it, and works with it there', async () => {
    const prefix = uniquePrefix();
    const password = 'pasted-secret-pw';
    const user = `${prefix}user`;
    const admin = (method: string, path: string, body?: unknown) =>
      fetch(`${couchUrl}/${path}`, { method, headers: { 'content-type': 'application/json', authorization: basicAuthorization() }, body: body === undefined ? undefined : JSON.stringify(body) });
    // A plain (non-admin) user writing into databases that exist already.
    expect((await admin('PUT', `_users/org.couchdb.user:${user}`, { name: user, password, roles: [], type: 'user' })).ok).toBe(true);
    const agents = `${prefix}_agents`;
    expect((await admin('PUT', agents)).ok).toBe(true);
    const source = file(`${prefix}in.json`, exportOf({ [agents]: 12 }));
    const target = couchUrl.replace('http://', `couchdb://${user}:${password}@`);
    const run = await cli(['--from', `file:${source}`, '--to', target]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout + run.stderr).not.toContain(password);
    const line = printed(run.stdout, verifyLabel);
    expect(line).toBe(`gofannon-etl verify --from file:${source} --to ${couchUrl.replace('http://', `couchdb://${user}@`)}`);
    expect(run.stdout).toContain(`${line}\n  (the password given in --to is not printed: set COUCHDB_PASSWORD in the environment first)`);
    // As printed, without the variable, CouchDB refuses the user: the note is needed...
    expect((await paste(line)).code).toBe(3);
    // ...and with it the pasted command works.
    const verified = await paste(line, cleanEnv({ COUCHDB_PASSWORD: password }));
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toContain('Identical');
  });

  test('--from - and --to - are stdin and stdout, as file:- is', async () => {
    const input = exportOf({ agents: 3 });
    const copied = await cli(['--from', '-', '--to', '-'], cleanEnv(), input);
    expect(copied.code, copied.stderr).toBe(0);
    expect((JSON.parse(copied.stdout) as { data: { agents: unknown[] } }).data.agents).toHaveLength(3);
    const toFile = await cli(['--from', '-', '--to', 'file:from-stdin.json', '--quiet'], cleanEnv(), input);
    expect(toFile.code, toFile.stderr).toBe(0);
    expect(readFileSync(join(dir, 'from-stdin.json'), 'utf8')).toContain('"agents-000002"');
    // stdin cannot be read again: no verify is offered.
    expect(toFile.stdout).not.toContain('verify');
  });
});

describe('a target that cannot take the run', () => {
  test('a table keyed id for a later collection: refused before the first document, one line, nothing written, no resume offered', async () => {
    const prefix = `${uniquePrefix()}_`;
    await tableKeyedId(`${prefix}users`);
    await tableKeyedId(`${prefix}zeta`);
    const source = file(`${prefix}in.json`, exportOf({ agents: 207, users: 5, zeta: 1 }));
    const args = ['--from', `file:${source}`, '--to', dynamoUri, '--table-prefix', prefix];
    const run = await cli([...args, '--checkpoint', `${prefix}ckpt.json`, '--report', `${prefix}report.json`]);
    expect(run.code).toBe(3);
    expect(run.stderr.trim().split('\n')).toEqual([
      `gofannon-etl: DynamoDB at ${dynamoUrl.replace('http://', '')}: table ${prefix}users has key HASH id (S); gofannon-etl writes Gofannon's layout, a single string hash key _id (and 1 more: --dry-run lists them all) (0 documents were written before it)`,
    ]);
    expect(await tableExists(`${prefix}agents`)).toBe(false);
    expect(existsSync(join(dir, `${prefix}ckpt.json`))).toBe(false);
    const report = readReport(`${prefix}report.json`);
    expect(report).toMatchObject({ ok: false, total: { read: 0, written: 0 } });
    expect(report.error).toContain(`table ${prefix}users has key HASH id (S)`);

    const dry = await cli([...args, '--dry-run']);
    expect(dry.code).toBe(3);
    expect(dry.stdout).toContain(`  - DynamoDB at ${dynamoUrl.replace('http://', '')}: table ${prefix}users has key HASH id (S)`);
    expect(dry.stdout).toContain(`  - DynamoDB at ${dynamoUrl.replace('http://', '')}: table ${prefix}zeta has key HASH id (S)`);
    expect(dry.stdout).toMatch(/agents\s+207\s+207\s+0\s+0\s+DynamoDB table/);
    expect(dry.stdout).toContain('would write');
    expect(dry.stdout + dry.stderr).not.toMatch(/\d+ documents? (were |was )?written/);
    expect(await tableExists(`${prefix}agents`)).toBe(false);
  });

  test('CouchDB: a database a plain user may not create is found before the first document', async () => {
    const prefix = uniquePrefix();
    const user = `${prefix}user`;
    const password = 'plain-user-pw';
    await fetch(`${couchUrl}/_users/org.couchdb.user:${user}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: user, password, roles: [], type: 'user' }) });
    const existing = `${prefix}_agents`;
    expect((await fetch(`${couchUrl}/${existing}`, { method: 'PUT', headers: { authorization: basicAuthorization() } })).ok).toBe(true);
    const source = file(`${prefix}in.json`, exportOf({ [existing]: 3, [`${prefix}_users`]: 2 }));
    const run = await cli(['--from', `file:${source}`, '--to', couchUrl.replace('http://', `couchdb://${user}:${password}@`)]);
    expect(run.code).toBe(3);
    expect(run.stderr.trim()).toBe(`gofannon-etl: CouchDB at ${couchUrl.replace('http://', '')}: database ${prefix}_users does not exist and user ${user} is not a server admin, who alone may create it (0 documents were written before it)`);
    const docs = (await (await fetch(`${couchUrl}/${existing}/_all_docs`)).json()) as { rows: unknown[] };
    expect(docs.rows).toHaveLength(0);
  });
});

describe('checkpoints, resumes and reports', () => {
  test('a source that cannot list: the check at the collection stops the run; the checkpoint is kept from other runs; the printed resume finishes it once fixed, reporting the whole migration', async () => {
    const prefix = `${uniquePrefix()}_`;
    // Gzipped with its metadata last: the collections are known only once read. zeta is no Gofannon collection.
    const source = file(`${prefix}in.json.gz`, gzipSync(exportOf({ agents: 40, zeta: 3 }, true)));
    await tableKeyedId(`${prefix}zeta`);
    const checkpoint = `${prefix}ckpt.json`;
    const args = ['--from', `file:${source}`, '--to', dynamoUri, '--table-prefix', prefix, '--checkpoint', checkpoint, '--report', `${prefix}report.json`];
    const failed = await cli(args);
    expect(failed.code).toBe(3);
    expect(failed.stderr).toContain(`table ${prefix}zeta has key HASH id (S)`);
    expect(failed.stderr).toContain('(40 documents were written before it)');
    const first = readReport(`${prefix}report.json`);
    expect(first).toMatchObject({ ok: false, total: { written: 40 }, collections: { agents: { written: 40 } } });
    expect(first.error).toContain(`table ${prefix}zeta has key HASH id (S)`);
    const resume = printed(failed.stderr, resumeLabel);
    expect(resume).toBe(`gofannon-etl --from file:${source} --to ${dynamoUri} --table-prefix ${prefix} --report ${prefix}report.json --checkpoint ${checkpoint} --resume`);

    // The same command again without --resume would start over on top of this run's checkpoint.
    const again = await cli(args);
    expect(again.code).toBe(2);
    expect(again.stderr.trim()).toBe(`gofannon-etl: checkpoint ${checkpoint} holds an unfinished run (40 documents written): continue it with --resume, or --force to replace it`);
    // A resume that would change the data is refused, naming the difference.
    const otherTransforms = await cli([...args, '--resume', '--transform', 'float-to-decimal']);
    expect(otherTransforms.code).toBe(2);
    expect(otherTransforms.stderr.trim()).toBe(`gofannon-etl: checkpoint ${checkpoint} belongs to another run: its --transform was strip-couch-meta, this run's is strip-couch-meta then float-to-decimal`);
    const keepMeta = await cli([...args, '--resume', '--keep-couch-meta']);
    expect(keepMeta.code).toBe(2);
    expect(keepMeta.stderr).toContain("its --transform was strip-couch-meta, this run's is none");
    const otherConflicts = await cli([...args, '--resume', '--on-conflict', 'skip']);
    expect(otherConflicts.code).toBe(2);
    expect(otherConflicts.stderr).toContain("its --on-conflict was overwrite, this run's is skip");

    await dynamo.send(new DeleteTableCommand({ TableName: `${prefix}zeta` }));
    const resumed = await paste(resume);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/total\s+43\s+43/);
    expect(resumed.stdout).toContain(`The counts cover the whole migration, including 40 documents written by the earlier run(s) (from ${checkpoint}).`);
    const whole = readReport(`${prefix}report.json`);
    expect(whole).toMatchObject({ ok: true, total: { written: 43 }, earlier: { written: 40 }, collections: { agents: { written: 40 }, zeta: { written: 3 } } });
    expect(whole.error).toBeUndefined();
    const verify = await paste(printed(resumed.stdout, verifyLabel));
    expect(verify.code, verify.stdout).toBe(0);

    // The finished checkpoint of this same run is replaced by running it again; another run's is not, unless --force.
    expect((await cli([...args, '--quiet'])).code).toBe(0);
    const other = await cli([...args, '--quiet', '--collections', 'agents']);
    expect(other.code).toBe(2);
    expect(other.stderr.trim()).toBe(`gofannon-etl: checkpoint ${checkpoint} holds a finished run of another migration (its --collections was all collections, this run's is agents): give another --checkpoint FILE, or --force to replace it`);
    expect((await cli([...args, '--quiet', '--collections', 'agents', '--force'])).code).toBe(0);
  });

  test('a resume through an edited transform module, or a built-in given other arguments, is refused naming both', async () => {
    const source = file('coded.json', exportOf({ agents: 3 }));
    file('stamp.mjs', 'export default (doc) => ({ ...doc, stamp: 1 });\n');
    const args = ['--from', `file:${source}`, '--to', 'null', '--checkpoint', 'coded-ckpt.json', '--transform', './stamp.mjs', '--transform', 'numbers-from-strings=agents.n', '--quiet'];
    expect((await cli(args)).code).toBe(0);
    file('stamp.mjs', 'export default (doc) => ({ ...doc, stamp: 2 });\n');
    const edited = await cli([...args, '--resume']);
    expect(edited.code).toBe(2);
    expect(edited.stderr.trim()).toMatch(/^gofannon-etl: checkpoint coded-ckpt\.json belongs to another run: its transform code was strip-couch-meta then \.\/stamp\.mjs \(sha256 (\w{12})\) then numbers-from-strings=agents\.n, this run's is strip-couch-meta then \.\/stamp\.mjs \(sha256 (?!\1)\w{12}\) then numbers-from-strings=agents\.n$/);
    file('stamp.mjs', 'export default (doc) => ({ ...doc, stamp: 1 });\n');
    const otherFields = await cli([...args.map((a) => (a === 'numbers-from-strings=agents.n' ? 'numbers-from-strings=agents.v' : a)), '--resume']);
    expect(otherFields.code).toBe(2);
    expect(otherFields.stderr).toMatch(/its transform code was .* then numbers-from-strings=agents\.n, this run's is .* then numbers-from-strings=agents\.v$/m);
    // Put back as it was, the same run: a completed one, so there is nothing to resume.
    const same = await cli([...args, '--resume']);
    expect(same.stderr).toContain('says this migration already completed');
  });

  test('stopped while writing a file (written whole): the printed command starts over, its own checkpoint no obstacle, and leaves a whole file', async () => {
    const source = file('whole.json', exportOf({ agents: 300, users: 50 }));
    const args = ['--from', `file:${source}`, '--to', 'file:whole-copy.json', '--checkpoint', 'whole-ckpt.json'];
    const stopped = await stoppedAt(args, 150);
    expect(stopped.code, stopped.stderr).toBe(130);
    expect(existsSync(join(dir, 'whole-copy.json'))).toBe(false);
    expect(stopped.stdout).not.toContain(resumeLabel);
    const again = printed(stopped.stdout, 'file:whole-copy.json is written whole; to start over:');
    expect(again).toBe(`gofannon-etl --from file:${source} --to file:whole-copy.json --transform ./gate.mjs --checkpoint whole-ckpt.json`);
    const pasted = await paste(again);
    expect(pasted.code, pasted.stderr).toBe(0);
    const check = await paste(printed(pasted.stdout, verifyLabel));
    expect(check.code, check.stdout).toBe(0);
    expect(check.stdout).toMatch(/agents\s+300\s+300\s+300\s+0\s+0\s+0/);
  });

  test('stopped without --checkpoint: the printed command runs it again to the end', async () => {
    const prefix = `${uniquePrefix()}_`;
    const source = file(`${prefix}in.json`, exportOf({ agents: 1200 }));
    const stopped = await stoppedAt(['--from', `file:${source}`, '--to', dynamoUri, '--table-prefix', prefix], 600);
    expect(stopped.code, stopped.stderr).toBe(130);
    const again = printed(stopped.stdout, 'No --checkpoint was given; to run it again (writes by _id are idempotent; add --checkpoint FILE to be able to resume):');
    const pasted = await paste(again);
    expect(pasted.code, pasted.stderr).toBe(0);
    expect(pasted.stdout).toMatch(/agents\s+1200\s+1200/);
  });

  test('stopped while reading stdin: no resume is offered (stdin is read once), and a --resume is refused', async () => {
    const prefix = `${uniquePrefix()}_`;
    const args = ['--from', '-', '--to', dynamoUri, '--table-prefix', prefix, '--checkpoint', `${prefix}ckpt.json`];
    const stopped = await stoppedAt(args, 100, exportOf({ agents: 300 }));
    expect(stopped.code, stopped.stderr).toBe(130);
    expect(stopped.stdout).not.toContain(resumeLabel);
    expect(stopped.stdout).toContain('stdin was read once, so this run cannot be resumed: run the whole pipeline again to start over.');
    const resumed = await cli([...args, '--transform', './gate.mjs', '--resume'], cleanEnv(), exportOf({ agents: 300 }));
    expect(resumed.code).toBe(2);
    expect(resumed.stderr.trim()).toBe('gofannon-etl: file:- is read only once and cannot be resumed from: run again without --resume');
  });

  test('a file that is not a checkpoint is never overwritten by --checkpoint', async () => {
    const precious = file('precious.json', '{"not": "a checkpoint"}\n');
    const run = await cli(['--from', `file:${file('small.json', exportOf({ agents: 2 }))}`, '--to', 'null', '--checkpoint', precious]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`checkpoint ${precious} is not a gofannon-etl checkpoint`);
    expect(readFileSync(join(dir, precious), 'utf8')).toBe('{"not": "a checkpoint"}\n');
  });

  test('a run refused before it starts still writes its report: ok: false and why, never the last run\'s success', async () => {
    const source = file('reported.json', exportOf({ agents: 4 }));
    const ok = await cli(['--from', `file:${source}`, '--to', 'null', '--report', 'reported-report.json', '--quiet']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(readReport('reported-report.json')).toMatchObject({ ok: true, total: { written: 4 } });
    const missing = await cli(['--from', 'file:no-such-backup.json', '--to', 'null', '--report', 'reported-report.json']);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toBe('gofannon-etl: no-such-backup.json: no such file');
    expect(readReport('reported-report.json')).toMatchObject({ ok: false, error: 'no-such-backup.json: no such file', source: 'file:no-such-backup.json', total: { read: 0, written: 0 } });
    // A file the run would write at its end, in a directory that does not exist: refused before anything is read or written.
    const noDir = await cli(['--from', `file:${source}`, '--to', 'file:reported-copy.json', '--dead-letter', 'no-such-dir/dead.ndjson']);
    expect(noDir.code).toBe(2);
    expect(noDir.stderr.trim()).toBe(`gofannon-etl: --dead-letter no-such-dir/dead.ndjson: the directory ${join(dir, 'no-such-dir')} does not exist`);
    expect(existsSync(join(dir, 'reported-copy.json'))).toBe(false);
  });

  test('the report of a run stopped by malformed input says ok: false, why, and what was done before', async () => {
    const good = exportOf({ agents: 50 });
    const source = file('cut.json', good.slice(0, good.indexOf('"agents-000040"')));
    const run = await cli(['--from', `file:${source}`, '--to', 'file:cut-copy.json', '--batch-size', '10', '--report', 'cut-report.json']);
    expect(run.code).toBe(3);
    const report = readReport('cut-report.json');
    expect(report.ok).toBe(false);
    expect(report.error).toMatch(/^cut\.json: unexpected end of file at byte \d+ \(line \d+\) in collection "agents"$/);
    expect(report.total.read).toBe(40);
    expect(report.total.written).toBeGreaterThanOrEqual(30);
  });
});
