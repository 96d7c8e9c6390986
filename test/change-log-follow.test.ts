/**
 * "A full backup, then a change log": a `--follow` run into an NDJSON file while the source
 * changes, then the log read back into memory and into DynamoDB Local, which must end equal to the
 * source, deletes included. Gates are the sink's own answers: a change is in the file once its
 * write or remove resolved.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, inject, test } from 'vitest';
import { migrate, type MigrateOptions } from '../src/pipeline.js';
import fileSink from '../src/sinks/file.js';
import { memoryStore, memoryWriter } from '../src/stores/memory/store.js';
import type { Doc, RunReport, Sink } from '../src/types.js';
import { uniquePrefix } from './corpus.js';
import { verify } from '../src/verify/verify.js';
import { localDynamoEnv, testAdapterOptions } from './helpers.js';

const endpoint = inject('dynamodbUrl').replace(/^http:/, 'dynamodb:');
const dir = mkdtempSync(join(tmpdir(), 'etl-log-follow-'));
const quiet = { warn: () => {} };

/** The file sink at `path`, counting the changes it has put in the file: `reached(n)` resolves once there are n. */
function countedLog(path: string): { sink: Sink; reached(n: number): Promise<void> } {
  const sink = fileSink({ scheme: 'file', rest: path, raw: `file:${path}` }, testAdapterOptions({ follow: true }));
  let count = 0;
  const gates: { n: number; open: () => void }[] = [];
  const counted = (n: number) => {
    count += n;
    for (const gate of gates.filter((g) => g.n <= count)) gate.open();
  };
  const write = sink.write.bind(sink);
  const remove = sink.remove!.bind(sink);
  sink.write = async (collection, docs, signal) => {
    const answers = await write(collection, docs, signal);
    counted(docs.length);
    return answers;
  };
  sink.remove = async (collection, ids, signal) => {
    const answers = await remove(collection, ids, signal);
    counted(ids.length);
    return answers;
  };
  return { sink, reached: (n) => (n <= count ? Promise.resolve() : new Promise((open) => gates.push({ n, open }))) };
}

/** A follow from `memory:NAME` into the log; `stop()` ends it as Ctrl-C does and answers its report. */
function follow(name: string, log: Sink, extra: Partial<MigrateOptions> = {}): { stop(): Promise<RunReport>; done: Promise<RunReport> } {
  const controller = new AbortController();
  const done = migrate({ from: `memory:${name}`, to: log, follow: true, signal: controller.signal, ...quiet, ...extra });
  return {
    done,
    stop: () => {
      controller.abort();
      return done;
    },
  };
}

const snapshotOf = (name: string) => Object.fromEntries([...memoryStore(name)].map(([c, docs]) => [c, Object.fromEntries(docs)]));

/** Restores the log into memory:`into` and into DynamoDB Local; both must then equal the source `name`. */
async function restoreAndCompare(log: string, name: string): Promise<void> {
  const into = `restored-${uniquePrefix()}`;
  const restored = await migrate({ from: `file:${log}`, to: `memory:${into}`, ...quiet });
  expect(restored.ok).toBe(true);
  expect(snapshotOf(into)).toEqual(snapshotOf(name));

  const tablePrefix = `${uniquePrefix()}_`;
  const intoDynamo = await migrate({ from: `file:${log}`, to: endpoint, tablePrefix, env: localDynamoEnv, ...quiet });
  expect(intoDynamo.ok).toBe(true);
  const check = await verify({ from: `memory:${name}`, to: endpoint, tablePrefix, env: localDynamoEnv, collections: Object.keys(snapshotOf(name)), ...quiet });
  expect(check.identical, JSON.stringify(check.collections)).toBe(true);
}

const agent = (id: string, version: number): Doc => ({ _id: id, name: `agent ${id}`, version, big: 2 ** 40 + version, nested: { list: [version, 'é'] } });

test.each(['log.ndjson', 'log.ndjson.gz'])('a follow into %s while the source changes restores to the same state, deletes included', async (file) => {
  const name = uniquePrefix();
  const writer = memoryWriter(name);
  for (let i = 1; i <= 5; i++) writer.put('agents', agent(`a${i}`, 1));
  writer.put('users', { _id: 'u1', email: 'u1@example.test' });
  const path = join(dir, `${name}-${file}`);
  const log = countedLog(path);
  const run = follow(name, log.sink);
  await log.reached(6);

  writer.put('agents', agent('a1', 2));
  writer.delete('agents', 'a2');
  writer.put('agents', agent('a6', 1));
  writer.delete('users', 'u1');
  writer.put('users', { _id: 'u1', email: 'back@example.test' });
  writer.put('agents', agent('a7', 1));
  writer.delete('agents', 'a7');
  await log.reached(6 + 7);
  const report = await run.stop();
  expect(report).toMatchObject({ ok: true, interrupted: false });
  expect(report.total).toMatchObject({ written: 6 + 4, deleted: 3, failed: 0 });
  expect(report.follow?.applied).toBe(7);

  await restoreAndCompare(path, name);
  expect(snapshotOf(name).agents).not.toHaveProperty('a2');
});

test('a resumed follow appends to its log (the changes made while it was stopped first); the log restores the state after both runs', async () => {
  const name = uniquePrefix();
  const writer = memoryWriter(name);
  writer.put('agents', agent('a1', 1));
  writer.put('agents', agent('a2', 1));
  const path = join(dir, `${name}.ndjson`);
  const checkpoint = join(dir, `${name}.ckpt`);

  const first = countedLog(path);
  const run1 = follow(name, first.sink, { checkpoint });
  await first.reached(2);
  writer.delete('agents', 'a1');
  await first.reached(3);
  expect((await run1.stop()).ok).toBe(true);

  // While nobody follows: the resume picks these up from the saved feed position.
  writer.put('agents', agent('a2', 2));
  writer.put('agents', agent('a3', 1));
  const second = countedLog(path);
  const run2 = follow(name, second.sink, { checkpoint, resume: true });
  await second.reached(2);
  writer.delete('agents', 'a3');
  await second.reached(3);
  const report = await run2.stop();
  expect(report.ok).toBe(true);
  const ids = readFileSync(path, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { doc?: Doc; deleted?: string }).filter((l) => l.doc || l.deleted).map((l) => l.deleted ? `-${l.deleted}` : `+${l.doc!._id}`);
  expect(ids).toEqual(['+a1', '+a2', '-a1', '+a2', '+a3', '-a3']);
  await restoreAndCompare(path, name);
});

test('a change log read in shards (split by _id, its first line says it is a log) restores, one shard after the other, the state a whole read gives', async () => {
  const lines = ['{"metadata":{"provider":"memory","changes":true}}', '{"collection":"agents"}'];
  for (let i = 0; i < 40; i++) lines.push(`{"collection":"agents","doc":{"_id":"a${i}","v":1}}`);
  for (let i = 0; i < 40; i += 3) lines.push(`{"collection":"agents","deleted":"a${i}"}`, `{"collection":"agents","doc":{"_id":"a${i + 1}","v":2}}`);
  lines.push('{"collection":"agents","doc":{"_id":"a0","v":3}}');
  const path = join(dir, `${uniquePrefix()}-sharded.ndjson`);
  writeFileSync(path, `${lines.join('\n')}\n`);
  const whole = `whole-${uniquePrefix()}`;
  expect((await migrate({ from: `file:${path}`, to: `memory:${whole}`, ...quiet })).total.deleted).toBe(14);
  const parts = `parts-${uniquePrefix()}`;
  for (const index of [1, 0]) await migrate({ from: `file:${path}`, to: `memory:${parts}`, shard: { index, count: 2 }, ...quiet });
  expect(snapshotOf(parts)).toEqual(snapshotOf(whole));
  expect(snapshotOf(whole).agents!.a0).toEqual({ _id: 'a0', v: 3 });
  expect(snapshotOf(whole).agents).not.toHaveProperty('a3');
});
