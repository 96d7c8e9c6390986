/**
 * The job-array recipes in docs/ run as written: the command each copy runs (its `sh` line that
 * adds --resume when the shard's checkpoint exists, and the tool's arguments) is taken from the
 * Kubernetes manifest and the AWS Batch job definition, with only the volumes and the target
 * pointed at this machine, and run once per index with the runner's variable set. The N copies
 * import every document exactly once; a copy stopped part-way and started again continues; no
 * secret is written in either file.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, test } from 'vitest';
import type { RunReport } from '../src/types.js';
import { uniquePrefix } from './corpus.js';
import { cleanEnv, cliPath, gateTransform, generatedDoc, type CliResult } from './generated-export.js';

const dynamoUri = inject('dynamodbUrl').replace(/^http:/, 'dynamodb:');
const docs = new URL('../docs/job-arrays/', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'job-arrays-'));
const binDir = mkdtempSync(join(tmpdir(), 'job-arrays-bin-'));
symlinkSync(cliPath, join(binDir, 'gofannon-etl'));
writeFileSync(join(dir, 'gate.mjs'), gateTransform);

const counts = { agents: 1200, users: 1800 };
const total = counts.agents + counts.users;
const backup = Object.entries(counts).flatMap(([c, n]) => Array.from({ length: n }, (_, i) => JSON.stringify({ collection: c, doc: generatedDoc(c, i) })));

/** Runs one copy of the recipe's command, as the runner starts it; `stopAtGate` sends SIGTERM once the gate holds it. */
function runCopy(command: string[], env: NodeJS.ProcessEnv, stopAtGate = false): Promise<CliResult> {
  const child = spawn(command[0]!, command.slice(1), { cwd: dir, env: { ...env, NO_COLOR: '1', PATH: `${binDir}:${env.PATH ?? ''}` } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b) => (stdout += b));
  child.stderr.on('data', (b) => {
    stderr += b;
    if (stopAtGate && stderr.includes('gate reached') && !child.killed) child.kill('SIGTERM');
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/**
 * The recipe's command on this machine: /data and /state are directories here, the target is
 * DynamoDB Local under a fresh table prefix, and a gate transform lets one copy be stopped part-way.
 */
function localCommand(command: string[], to: string, root: string, prefix: string): string[] {
  const local = command.map((part) => part.replaceAll('/data/', `${root}/data/`).replaceAll('/state/', `${root}/state/`));
  const at = local.indexOf('--to');
  expect(local[at + 1]).toBe(to);
  local.splice(at, 2, '--to', dynamoUri, '--table-prefix', prefix);
  return [...local, '--transform', './gate.mjs'];
}

/** Every index of the array, one copy stopped at its gate first and retried, as the runner would. */
async function runArray(command: string[], to: string, indexVariable: string, count: number): Promise<void> {
  const prefix = `${uniquePrefix()}_`;
  const root = join(dir, prefix);
  mkdirSync(join(root, 'data'), { recursive: true });
  mkdirSync(join(root, 'state'));
  writeFileSync(join(root, 'data', 'backup.ndjson'), `${backup.join('\n')}\n`);
  const local = localCommand(command, to, root, prefix);
  const env = (index: number, extra: NodeJS.ProcessEnv = {}) => cleanEnv({ [indexVariable]: String(index), ...extra });

  const stopped = await runCopy(local, env(1, { GATE_AT: '400' }), true);
  expect(stopped.code, stopped.stderr).toBe(130);
  // The retried copy finds the shard's checkpoint and continues it.
  const results = await Promise.all(Array.from({ length: count }, (_, index) => runCopy(local, env(index))));
  results.forEach((r, index) => expect(r.code, `index ${index}: ${r.stderr}`).toBe(0));
  const reports = Array.from({ length: count }, (_, index) => JSON.parse(readFileSync(join(root, 'state', `report.shard-${index}-of-${count}.json`), 'utf8')) as RunReport);
  expect(reports[1]!.earlier?.written).toBeGreaterThan(0);
  expect(reports.map((r) => r.shard?.index)).toEqual([0, 1, 2, 3]);
  expect(reports.reduce((n, r) => n + r.total.written, 0)).toBe(total);
  for (const report of reports) expect(report.total.written).toBeGreaterThan(total / count / 3);
  const check = await runCopy(['gofannon-etl', 'verify', '--from', `file:${root}/data/backup.ndjson`, '--to', dynamoUri, '--table-prefix', prefix, '--transform', './gate.mjs'], cleanEnv());
  expect(check.code, check.stdout + check.stderr).toBe(0);
}

/** The number after `auto/` in the command's --shard. */
function shardCount(command: string[]): number {
  const value = command[command.indexOf('--shard') + 1];
  expect(value).toMatch(/^auto\/\d+$/);
  return Number(value!.split('/')[1]);
}

describe('the Kubernetes Indexed Job manifest', () => {
  const manifest = readFileSync(join(docs, 'kubernetes-indexed-job.yaml'), 'utf8');
  /** A `key: [ ... ]` line of the manifest: YAML's flow sequence, which JSON reads too. */
  const list = (key: string) => JSON.parse(new RegExp(`^\\s+${key}: (\\[.*\\])$`, 'm').exec(manifest)![1]!) as string[];
  const number = (key: string) => Number(new RegExp(`^\\s+${key}: (\\d+)$`, 'm').exec(manifest)?.[1]);
  const command = [...list('command'), ...list('args')];

  test('is an Indexed Job whose completions and parallelism are the COUNT of --shard auto/COUNT, secrets only by reference', () => {
    expect(manifest).toMatch(/^\s+completionMode: Indexed$/m);
    const count = shardCount(command);
    expect(number('completions')).toBe(count);
    expect(number('parallelism')).toBe(count);
    for (const name of ['COUCHDB_PASSWORD', 'COUCHDB_USER', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) {
      expect(manifest).toMatch(new RegExp(`- name: ${name}\\n\\s+valueFrom: \\{ secretKeyRef: `));
    }
    expect(manifest).toMatch(/GOOGLE_APPLICATION_CREDENTIALS\n\s+value: \/secrets\/firestore\/key\.json/);
    expect(manifest).toMatch(/secret: \{ secretName: gofannon-etl-firestore/);
  });

  test('its pods import every document once; a pod stopped part-way continues when retried', async () => {
    await runArray(command, 'firestore', 'JOB_COMPLETION_INDEX', shardCount(command));
  });
});

describe('the AWS Batch job definition', () => {
  const definition = JSON.parse(readFileSync(join(docs, 'aws-batch-job-definition.json'), 'utf8')) as {
    containerProperties: { command: string[]; jobRoleArn: string; environment: { name: string }[]; secrets: { name: string; valueFrom: string }[] };
  };
  const { command } = definition.containerProperties;

  test('runs --shard auto/COUNT with a job role, secrets from Secrets Manager and none in its environment', () => {
    shardCount(command);
    expect(definition.containerProperties.jobRoleArn).toMatch(/^arn:aws:iam::/);
    for (const secret of definition.containerProperties.secrets) expect(secret.valueFrom).toMatch(/^arn:aws:secretsmanager:/);
    expect(definition.containerProperties.environment.map((e) => e.name).filter((n) => /PASSWORD|SECRET|KEY/.test(n))).toEqual([]);
  });

  test('its array\'s copies import every document once; a copy stopped part-way continues when retried', async () => {
    await runArray(command, 'dynamodb', 'AWS_BATCH_JOB_ARRAY_INDEX', shardCount(command));
  });
});
