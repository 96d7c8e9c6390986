/**
 * A change log through the CLI as an operator runs it: `--from dynamodb --to file:log.ndjson
 * --follow` while a writer process inserts, updates and deletes; the follower SIGKILLed mid-way,
 * the writer going on, `--resume` appending to the same log until caught up. The log, read back,
 * must restore the table's state exactly. Gates: the writer's `ops N` lines and the log's own lines
 * (a change is in the file before the follower acknowledges it).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createStreamTable } from './servers/dynamodb-local.js';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, watch } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, inject, test } from 'vitest';
import { migrate } from '../src/pipeline.js';
import { verify } from '../src/verify/verify.js';
import { uniquePrefix } from './corpus.js';
import { cleanEnv, runCli, spawnCli } from './generated-export.js';
import { localDynamoEnv } from './helpers.js';

const url = inject('dynamodbUrl');
const endpoint = url.replace(/^http:/, 'dynamodb:');
const dir = mkdtempSync(join(tmpdir(), 'etl-log-kill-'));
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const raw = new DynamoDBClient({ endpoint: url, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
afterAll(() => raw.destroy());

/** The app writing: test/dynamodb-writer.mjs, with a gate per `ops N` line. */
function startWriter(table: string) {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./dynamodb-writer.mjs', import.meta.url))], {
    env: { ...process.env, WRITER_ENDPOINT: url, WRITER_TABLE: table, WRITER_IDS: '30', WRITER_SEED: '7' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let ops = 0;
  const gates: { n: number; open: () => void }[] = [];
  child.stdout!.setEncoding('utf8').on('data', (text: string) => {
    for (const match of text.matchAll(/^ops (\d+)$/gm)) ops = Number(match[1]);
    for (const gate of gates.filter((g) => g.n <= ops)) gate.open();
  });
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  return {
    /** Resolves once the writer has made `n` more changes than now. */
    more: (n: number) => {
      const target = ops + n;
      return new Promise<void>((open) => gates.push({ n: target, open }));
    },
    stop: () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Resolves once the log holds at least `n` change lines (documents and tombstones), watching the file. */
function logHolds(path: string, n: number): Promise<void> {
  const count = () => {
    try {
      return (readFileSync(path, 'utf8').match(/"(doc|deleted)":/g) ?? []).length;
    } catch {
      return 0;
    }
  };
  return new Promise((open) => {
    const watcher = watch(dir, () => {
      if (count() < n) return;
      watcher.close();
      open();
    });
    if (count() >= n) {
      watcher.close();
      open();
    }
  });
}

test('SIGKILLed mid-follow, --resume appends to the log; read back, the log restores the table exactly', { timeout: 120_000 }, async () => {
  const prefix = `${uniquePrefix()}_`;
  const table = `${prefix}agents`;
  await createStreamTable(raw, table, 'NEW_IMAGE');
  const log = join(dir, `${prefix}log.ndjson`);
  const checkpoint = join(dir, `${prefix}run.ckpt`);
  const env = cleanEnv();
  const args = ['--from', endpoint, '--table-prefix', prefix, '--collections', 'agents', '--to', `file:${log}`, '--follow', '--checkpoint', checkpoint, '--quiet'];

  const writer = startWriter(table);
  await writer.more(20);
  const first = spawnCli(args, env);
  await logHolds(log, 40);
  first.child.kill('SIGKILL');
  expect((await first.done).signal).toBe('SIGKILL');

  await writer.more(30);
  expect(await writer.stop()).toBe(0);
  const resumed = await runCli([...args, '--resume', '--until-caught-up'], env);
  expect(resumed.code, resumed.stderr).toBe(0);

  const into = `restored-${prefix}`;
  const restored = await migrate({ from: `file:${log}`, to: `memory:${into}`, warn: () => {} });
  expect(restored.ok).toBe(true);
  expect(restored.total.deleted).toBeGreaterThan(0);
  const check = await verify({ from: endpoint, tablePrefix: prefix, collections: ['agents'], to: `memory:${into}`, env: localDynamoEnv, warn: () => {} });
  expect(check.collections.agents, JSON.stringify(check.collections)).toMatchObject({ missing: 0, changed: 0, extra: 0 });
  expect(check.identical).toBe(true);
});
