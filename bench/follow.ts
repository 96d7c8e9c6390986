/**
 * `--follow` on the local servers, CouchDB → DynamoDB and DynamoDB → CouchDB, the follower being
 * the built CLI in a process of its own (run `npm run build` first), as an operator runs it:
 * 1. snapshot: the source holds N documents; a plain migration and a `--follow --until-caught-up`
 *    run each copy them into a fresh target: docs/s of both (the snapshot keeps today's throughput).
 * 2. following: a `--follow` run copies the snapshot, then a writer in this process changes the
 *    source at a steady rate (40% updates, 40% creates, 20% deletes) while a probe polls the target
 *    for a sample of the changes until each is visible: end-to-end lag (change acknowledged by the
 *    source → visible in the target) median and p99, and changes applied per second (changes made /
 *    first change made → last change visible). Then SIGTERM (exit 0 expected) and verify (identical).
 * `BENCH_SMALL=1`: 2,000 documents and one rate for 8 s; otherwise 20,000 and two rates for 20 s.
 * A pair this build cannot follow (no change feed in the source, no `remove` in the target) is
 * skipped with a line saying so.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openSink, openSource } from '../src/registry.js';
import { adapterOptions } from '../src/pipeline/store-options.js';
import { verify } from '../src/verify/verify.js';
import type { Doc, RunReport } from '../src/types.js';
import { cleanEnv, runCli, spawnCli } from '../test/generated-export.js';
import { startCouch } from '../test/servers/couchdb.js';
import { startDynamoLocal } from '../test/servers/dynamodb-local.js';
import { makeDoc } from './fixtures.js';
import { type BenchStore, couchStore, dynamoStore } from './follow-stores.js';

const small = Boolean(process.env.BENCH_SMALL);
const snapshotDocs = small ? 2_000 : 20_000;
const rates = small ? [100] : [100, 300];
const writeSeconds = small ? 8 : 20;
/** Changes the probe follows per rate: enough for a p99, few enough that polling does not load the target. */
const probes = 200;
/** Changes in flight at once from the writer (never two on one document). */
const writerInFlight = 8;
const collection = 'agents';
const visibleWithin = 120_000;

const env = cleanEnv({ HOME: mkdtempSync(join(tmpdir(), 'bench-follow-home-')) });
const dir = mkdtempSync(join(tmpdir(), 'bench-follow-'));
let runs = 0;

const doc = (i: number, seq: number): Doc => ({ ...(makeDoc('agents', i) as Doc), _id: `agent-${i}`, seq });

/** One CLI run to its end: its report, or why it failed. */
async function cliRun(source: BenchStore, target: BenchStore, extra: string[]): Promise<RunReport> {
  const report = join(dir, `report-${++runs}.json`);
  const result = await runCli(['--from', source.uri, '--to', target.uri, '--collections', collection, '--report', report, '--quiet', ...extra], env);
  if (result.code !== 0) throw new Error(`gofannon-etl ${extra.join(' ')} exited ${result.code}: ${result.stderr.trim().split('\n').at(-1)}`);
  return JSON.parse(readFileSync(report, 'utf8')) as RunReport;
}

const rate = (docs: number, ms: number) => Math.round(docs / (ms / 1000));

/** A quiet source copied by a plain run and by `--follow --until-caught-up`, each into a fresh target. */
async function snapshot(source: BenchStore, target: BenchStore): Promise<void> {
  await target.drop(collection);
  const plain = await cliRun(source, target, []);
  await target.drop(collection);
  const follow = await cliRun(source, target, ['--follow', '--until-caught-up', '--checkpoint', join(dir, `snapshot-${runs}.ckpt`)]);
  await target.drop(collection);
  const plainRate = rate(plain.total.written, plain.durationMs);
  const followRate = rate(follow.total.written, follow.durationMs);
  console.log(`  snapshot of ${snapshotDocs.toLocaleString('en-US')} docs: plain ${plainRate} docs/s, --follow --until-caught-up ${followRate} docs/s (${((followRate / plainRate) * 100).toFixed(0)}% of plain)`);
}

interface Sample {
  made: number;
  visible?: number;
}

/** Polls the target until the change with `seq` to `id` shows (a put: that seq or a later one; a delete: no document). */
async function probe(target: BenchStore, id: string, seq: number, deleted: boolean, sample: Sample): Promise<void> {
  const deadline = sample.made + visibleWithin;
  while (performance.now() < deadline) {
    const held = await target.seqOf(collection, id);
    if (deleted ? held === undefined : held !== undefined && held >= seq) {
      sample.visible = performance.now();
      return;
    }
    await sleep(10);
  }
}

/** The source changed at `perSecond` for writeSeconds, a sample of the changes probed in the target. */
/**
 * `live`: documents the writer may update (it adds those it creates); `deletable`: those it may
 * delete, which it has not touched, so each was in the target before it was deleted.
 */
async function changeSteadily(source: BenchStore, target: BenchStore, perSecond: number, firstSeq: number, nextId: { value: number }, live: string[], deletable: string[]) {
  const total = perSecond * writeSeconds;
  const probeEvery = Math.max(1, Math.floor(total / probes));
  const busy = new Set<string>();
  const inFlight = new Set<Promise<void>>();
  const samples: Sample[] = [];
  const polls: Promise<void>[] = [];
  const started = performance.now();
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / perSecond;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    while (inFlight.size >= writerInFlight) await Promise.race(inFlight);
    const seq = firstSeq + i;
    const kind = i % 5;
    let id: string;
    let apply: () => Promise<void>;
    if (kind === 4 && deletable.length > 0) {
      id = deletable.shift()!;
      apply = () => source.remove(collection, id);
    } else if (kind >= 2) {
      const n = nextId.value++;
      id = `agent-${n}`;
      apply = async () => {
        await source.put(collection, doc(n, seq));
        live.push(id);
      };
    } else {
      do id = live[Math.floor(Math.random() * live.length)]!;
      while (busy.has(id));
      const n = Number(id.slice('agent-'.length));
      apply = () => source.put(collection, doc(n, seq));
    }
    busy.add(id);
    // The first and last changes are probed, so the applied rate spans them all.
    const probed = i % probeEvery === 0 || i === total - 1;
    const change: Promise<void> = apply().then(() => {
      busy.delete(id);
      if (!probed) return;
      const sample: Sample = { made: performance.now() };
      samples.push(sample);
      polls.push(probe(target, id, seq, kind === 4, sample));
    });
    inFlight.add(change);
    void change.finally(() => inFlight.delete(change));
  }
  await Promise.all(inFlight);
  const writing = performance.now() - started;
  await Promise.all(polls);
  return { total, writing, samples };
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

/** A `--follow` run, the writer at each rate, then SIGTERM and verify. */
async function following(source: BenchStore, target: BenchStore, sourceDocs: number): Promise<void> {
  await target.drop(collection);
  const checkpoint = join(dir, `follow-${++runs}.ckpt`);
  const report = join(dir, `follow-${runs}.json`);
  const follower = spawnCli(['--from', source.uri, '--to', target.uri, '--collections', collection, '--follow', '--checkpoint', checkpoint, '--report', report, '--quiet'], env);
  let stopping = false;
  const exited = follower.done.then((r): never => {
    throw new Error(stopping ? 'stopped' : `the follower exited on its own (${r.code}): ${r.stderr.trim().split('\n').at(-1)}`);
  });
  // Raced with every wait below; once the follower is stopped on purpose nobody waits for it.
  exited.catch(() => {});
  try {
    // The snapshot is in once the target holds what the quiet source holds.
    const snapshotStarted = performance.now();
    await Promise.race([exited, (async () => {
      while ((await target.count(collection)) < sourceDocs) await sleep(200);
    })()]);
    console.log(`  following: snapshot in after ${((performance.now() - snapshotStarted) / 1000).toFixed(1)} s (incl. process start)`);
    const live = Array.from({ length: snapshotDocs }, (_, i) => `agent-${i}`);
    const deletable = live.splice(0, Math.floor(snapshotDocs / 2));
    const nextId = { value: snapshotDocs };
    let seq = 1;
    for (const perSecond of rates) {
      const { total, writing, samples } = await Promise.race([exited, changeSteadily(source, target, perSecond, seq, nextId, live, deletable)]);
      seq += total;
      const seen = samples.filter((s) => s.visible !== undefined);
      const lags = seen.map((s) => s.visible! - s.made).sort((a, b) => a - b);
      const firstMade = Math.min(...samples.map((s) => s.made));
      const lastVisible = Math.max(...seen.map((s) => s.visible!));
      console.log(
        `  ${perSecond} changes/s asked (${rate(total, writing)} made) for ${writeSeconds} s: applied ${rate(total, lastVisible - firstMade)} changes/s; ` +
          `lag median ${Math.round(percentile(lags, 50))} ms, p99 ${Math.round(percentile(lags, 99))} ms (${seen.length} of ${samples.length} probed changes seen${seen.length < samples.length ? `, the rest not within ${visibleWithin / 1000} s` : ''})`,
      );
    }
  } finally {
    stopping = true;
    follower.child.kill('SIGTERM');
  }
  const result = await follower.done;
  const ran = JSON.parse(readFileSync(report, 'utf8')) as RunReport & { total: { deleted?: number } };
  const check = await verify({ from: source.uri, to: target.uri, collections: [collection], env, warn: () => {} });
  console.log(`  SIGTERM: exit ${result.code}; the run wrote ${ran.total.written} and deleted ${ran.total.deleted ?? '?'}; verify: ${check.identical ? 'identical' : `${JSON.stringify(check.collections[collection])} differences`}`);
  await target.drop(collection);
}

/** Why this build cannot follow from one store into the other (no change feed, no deletes), or undefined when it can. */
async function cannotFollow(from: BenchStore, to: BenchStore): Promise<string | undefined> {
  const options = adapterOptions({ env, warn: () => {} });
  const source = await openSource(from.uri, options);
  const sink = await openSink(to.uri, options);
  try {
    if (!source.feed) return `the ${from.name} source has no change feed in this build`;
    if (!sink.remove) return `the ${to.name} target cannot delete in this build`;
    return undefined;
  } finally {
    await source.close();
    await sink.close(false);
  }
}

export default async function bench(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const [couch, dynamo] = await Promise.all([startCouch(), startDynamoLocal()]);
  const stores = { couchdb: couchStore(couch.url), dynamodb: dynamoStore(dynamo.url) };
  try {
    console.log(`${snapshotDocs.toLocaleString('en-US')} documents of ~${JSON.stringify(doc(0, 0)).length} bytes, pouchdb-server --in-memory and DynamoDB Local, the follower in its own process${small ? ' (BENCH_SMALL)' : ''}`);
    for (const [from, to] of [[stores.couchdb, stores.dynamodb], [stores.dynamodb, stores.couchdb]] as const) {
      console.log(`${from.name} → ${to.name}`);
      const why = await cannotFollow(from, to);
      if (why) {
        console.log(`  skipped: ${why}`);
        continue;
      }
      await from.seed(collection, Array.from({ length: snapshotDocs }, (_, i) => doc(i, 0)));
      await snapshot(from, to);
      await following(from, to, snapshotDocs);
      await from.drop(collection);
    }
  } finally {
    for (const store of Object.values(stores)) store.close();
    await Promise.all([couch.stop(), dynamo.stop()]);
    rmSync(dir, { recursive: true, force: true });
    rmSync(env.HOME!, { recursive: true, force: true });
  }
}
