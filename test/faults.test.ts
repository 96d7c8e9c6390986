/**
 * Faults survived: real imports of a generated export into DynamoDB Local and pouchdb-server
 * through a fault-injecting proxy (throttling, 429, 5xx, connections reset before and after the
 * write, BatchWriteItem answers with UnprocessedItems). While the retry budget holds, every
 * document ends up in the target exactly once (verify against the real server, not the proxy, says
 * identical; counts equal) and the run is ok. Beyond the budget, the undeliverable documents are
 * in the dead-letter file with their reasons, the rest are written, and the CLI exits 1.
 */
import { localDynamoEnv } from './helpers.js';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { migrate } from '../src/pipeline.js';
import { verify } from '../src/verify/verify.js';
import { uniquePrefix } from './corpus.js';
import { cleanEnv, runCli, writeGeneratedExport } from './generated-export.js';
import { withTestAdmin } from './servers/couchdb.js';
import { everyNth, startFaultProxy, type FaultProxy, type FaultKind, type RequestInfo } from './servers/fault-proxy.js';

const dynamoUrl = inject('dynamodbUrl');
const couchUrl = inject('couchdbUrl');
const dir = mkdtempSync(join(tmpdir(), 'faults-'));
const quiet = { env: localDynamoEnv, warn: () => {} };

let dynamoProxy: FaultProxy;
let couchProxy: FaultProxy;
beforeAll(async () => {
  [dynamoProxy, couchProxy] = await Promise.all([startFaultProxy(dynamoUrl), startFaultProxy(couchUrl)]);
});
afterAll(async () => {
  await Promise.all([dynamoProxy?.close(), couchProxy?.close()]);
});

const asDynamo = (url: string) => url.replace(/^http:/, 'dynamodb:');
// The shared CouchDB creates databases for its admin only: through a proxy too.
const asCouch = (url: string) => withTestAdmin(url).replace(/^http:/, 'couchdb:');
const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

function exportFor(prefix: string, counts: Record<string, number>) {
  const named = Object.fromEntries(Object.entries(counts).map(([c, n]) => [`${prefix}${c}`, n]));
  const file = join(dir, `${prefix}export.json`);
  return { file, data: writeGeneratedExport(file, named), counts: named };
}

function logFaults(what: string, proxy: FaultProxy, outcome = 'injected and survived'): void {
  const injected = Object.entries(proxy.counts).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ');
  console.log(`[faults] ${what}: ${proxy.faults()} faults ${outcome} (${injected}) in ${proxy.requests.seen} requests`);
}

const allKinds: FaultKind[] = ['throttle', '429', '500', '503', 'reset', 'resetAfterWrite', 'partial'];

test('DynamoDB: every fault kind mixed in, every document written exactly once', async () => {
  const prefix = `${uniquePrefix()}_`;
  const { file, counts } = exportFor('', { agents: 900, users: 1200, sessions: 700, tickets: 400 });
  dynamoProxy.resetCounts();
  // Every 4th request of any kind (table calls included) gets the next fault in turn.
  dynamoProxy.plan(everyNth(4, allKinds));
  // Through the built CLI, for its exit code (asynchronously: the proxy runs in this process).
  const reportFile = join(dir, `${prefix}report.json`);
  const run = await runCli(['--from', `file:${file}`, '--to', asDynamo(dynamoProxy.url), '--table-prefix', prefix, '--report', reportFile, '--quiet'], cleanEnv());
  dynamoProxy.plan(() => 'forward');
  logFaults('file → DynamoDB (CLI)', dynamoProxy);

  expect(run.code, run.stderr).toBe(0);
  const report = JSON.parse(readFileSync(reportFile, 'utf8')) as { ok: boolean; total: Record<string, number> };
  expect(report.ok).toBe(true);
  expect(report.total).toMatchObject({ read: total(counts), written: total(counts), failed: 0 });
  for (const kind of allKinds) expect(dynamoProxy.counts[kind], kind).toBeGreaterThan(0);

  const check = await verify({ from: `file:${file}`, to: asDynamo(dynamoUrl), tablePrefix: prefix, ...quiet });
  expect(check.identical).toBe(true);
  for (const [collection, n] of Object.entries(counts)) {
    expect(check.collections[collection]).toMatchObject({ source: n, target: n, matched: n, missing: 0, changed: 0, extra: 0 });
  }
});

test('CouchDB: every fault kind mixed in, every document written exactly once', async () => {
  const prefix = `${uniquePrefix()}_`;
  const { file, counts } = exportFor(prefix, { agents: 900, users: 1200, sessions: 700, tickets: 400 });
  couchProxy.resetCounts();
  const kinds: FaultKind[] = ['throttle', '429', '500', '503', 'reset', 'resetAfterWrite'];
  couchProxy.plan(everyNth(3, kinds));
  // Smaller posts than the default 500, so a few thousand documents make enough requests to fault.
  const report = await migrate({ from: `file:${file}`, to: asCouch(couchProxy.url), batchSize: 100, ...quiet });
  couchProxy.plan(() => 'forward');
  logFaults('file → CouchDB', couchProxy);

  expect(report.ok).toBe(true);
  expect(report.total).toMatchObject({ read: total(counts), written: total(counts), failed: 0 });
  for (const kind of kinds) expect(couchProxy.counts[kind], kind).toBeGreaterThan(0);

  const check = await verify({ from: `file:${file}`, to: asCouch(couchUrl), collections: Object.keys(counts), ...quiet });
  expect(check.identical).toBe(true);
  for (const [collection, n] of Object.entries(counts)) {
    expect(check.collections[collection]).toMatchObject({ source: n, target: n, matched: n, missing: 0, changed: 0, extra: 0 });
  }
});

/** Does this request write to (or create) the doomed collection? */
function touches(request: RequestInfo, name: string): boolean {
  return request.path.includes(`/${name}/`) || request.body.includes(`"${name}"`);
}

for (const store of ['dynamodb', 'couchdb'] as const) {
  test(`${store}: beyond the retry budget, the undeliverable documents are dead-lettered and the CLI exits 1`, async () => {
    const prefix = store === 'couchdb' ? `${uniquePrefix()}_` : '';
    const tablePrefix = `${uniquePrefix()}_`;
    const { file, counts } = exportFor(prefix, { agents: 300, users: 400, tickets: 200 });
    const doomed = `${prefix}users`;
    const proxy = store === 'dynamodb' ? dynamoProxy : couchProxy;
    proxy.resetCounts();
    // The doomed collection's writes are throttled forever; everything else is forwarded.
    const writes = (r: RequestInfo) => r.operation === 'BatchWriteItem' || r.path.includes('/_bulk_docs');
    proxy.plan((r) => (writes(r) && touches(r, store === 'dynamodb' ? `${tablePrefix}users` : doomed) ? 'throttle' : 'forward'));
    const to = store === 'dynamodb' ? asDynamo(proxy.url) : asCouch(proxy.url);
    const deadLetter = join(dir, `${tablePrefix}dead.ndjson`);
    const reportFile = join(dir, `${tablePrefix}report.json`);
    const args = ['--from', `file:${file}`, '--to', to, '--retries', '2', '--dead-letter', deadLetter, '--report', reportFile, '--quiet'];
    if (store === 'dynamodb') args.push('--table-prefix', tablePrefix);
    else args.push('--batch-size', '100');
    const run = await runCli(args, cleanEnv());
    proxy.plan(() => 'forward');
    logFaults(`${store} beyond the budget (--retries 2)`, proxy, 'injected, the doomed collection dead-lettered');

    expect(run.code, run.stderr).toBe(1);
    const letters = readFileSync(deadLetter, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { collection: string; _id: string; reason: string; doc: unknown });
    expect(letters).toHaveLength(counts[doomed]!);
    expect(new Set(letters.map((l) => l._id)).size).toBe(counts[doomed]);
    for (const letter of letters) {
      expect(letter.collection).toBe(doomed);
      expect(letter.reason).toMatch(store === 'dynamodb' ? /ProvisionedThroughputExceeded/ : /429|too_many_requests/);
      expect(letter.doc).toMatchObject({ _id: letter._id });
    }
    expect(statSync(deadLetter).mode & 0o777).toBe(0o600);
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as { ok: boolean; collections: Record<string, { written: number; failed: number }> };
    expect(report.ok).toBe(false);
    for (const [collection, n] of Object.entries(counts)) {
      expect(report.collections[collection]).toMatchObject(collection === doomed ? { written: 0, failed: n } : { written: n, failed: 0 });
    }
    // The rest really is in the target.
    const others = Object.keys(counts).filter((c) => c !== doomed);
    const check = await verify({
      from: `file:${file}`,
      to: store === 'dynamodb' ? asDynamo(dynamoUrl) : asCouch(couchUrl),
      collections: others,
      ...(store === 'dynamodb' ? { tablePrefix } : {}),
      ...quiet,
    });
    expect(check.identical).toBe(true);
  });
}

test('DynamoDB: CreateTable and DescribeTable failing transiently (500, throttling, a reset) do not end the import', async () => {
  const prefix = `${uniquePrefix()}_`;
  const { file, counts } = exportFor('', { agents: 30, users: 20 });
  dynamoProxy.resetCounts();
  // Each kind of table call fails three times in a row (500, throttling, a reset) before one is let through.
  const failures = new Map<string, number>();
  const kinds: FaultKind[] = ['500', 'throttle', 'reset'];
  dynamoProxy.plan((request) => {
    if (request.operation !== 'CreateTable' && request.operation !== 'DescribeTable') return 'forward';
    const seen = failures.get(request.operation) ?? 0;
    failures.set(request.operation, seen + 1);
    return seen < kinds.length ? kinds[seen]! : 'forward';
  });
  const reportFile = join(dir, `${prefix}tables-report.json`);
  const run = await runCli(['--from', `file:${file}`, '--to', asDynamo(dynamoProxy.url), '--table-prefix', prefix, '--retries', '4', '--report', reportFile, '--quiet'], cleanEnv());
  dynamoProxy.plan(() => 'forward');
  logFaults('table calls (CLI)', dynamoProxy);

  expect(run.code, run.stderr).toBe(0);
  expect(failures.get('CreateTable')).toBeGreaterThan(kinds.length);
  expect(failures.get('DescribeTable')).toBeGreaterThan(kinds.length);
  const report = JSON.parse(readFileSync(reportFile, 'utf8')) as { ok: boolean; total: Record<string, number> };
  expect(report).toMatchObject({ ok: true, total: { read: total(counts), written: total(counts), failed: 0 } });
});

/** Fails the first calls of each key in turn with `kinds`, then lets them through. */
function firstCallsFail(key: (request: RequestInfo) => string | undefined, kinds: FaultKind[]) {
  const seen = new Map<string, number>();
  return (request: RequestInfo) => {
    const k = key(request);
    if (k === undefined) return 'forward';
    const n = seen.get(k) ?? 0;
    seen.set(k, n + 1);
    return kinds[n] ?? 'forward';
  };
}

const createTableOf = (request: RequestInfo) =>
  request.operation === 'CreateTable' ? (JSON.parse(request.body.toString('utf8')) as { TableName: string }).TableName : undefined;

test('DynamoDB: a CreateTable whose answer is lost after the table was made is found done; with --retries 0 a 500 stops the run', async () => {
  const prefix = `${uniquePrefix()}_`;
  const { file, counts } = exportFor('', { agents: 20, users: 10 });
  dynamoProxy.resetCounts();
  // Each table's create: the table is made but the answer lost, then (the retry) a 500, then through: DynamoDB says it exists.
  dynamoProxy.plan(firstCallsFail(createTableOf, ['resetAfterWrite', '500']));
  const run = await runCli(['--from', `file:${file}`, '--to', asDynamo(dynamoProxy.url), '--table-prefix', prefix, '--quiet'], cleanEnv());
  dynamoProxy.plan(() => 'forward');
  logFaults('lost CreateTable answers (CLI)', dynamoProxy);
  expect(run.code, run.stderr).toBe(0);
  expect(dynamoProxy.counts).toMatchObject({ resetAfterWrite: 2, '500': 2 });
  const check = await verify({ from: `file:${file}`, to: asDynamo(dynamoUrl), tablePrefix: prefix, ...quiet });
  expect(check.identical).toBe(true);
  expect(Object.keys(check.collections).sort()).toEqual(Object.keys(counts).sort());

  // The budget is --retries: with none, the same fault ends the run (exit 3), naming the call.
  const none = `${uniquePrefix()}_`;
  dynamoProxy.plan(firstCallsFail(createTableOf, ['500']));
  const stopped = await runCli(['--from', `file:${file}`, '--to', asDynamo(dynamoProxy.url), '--table-prefix', none, '--retries', '0', '--quiet'], cleanEnv());
  dynamoProxy.plan(() => 'forward');
  expect(stopped.code).toBe(3);
  expect(stopped.stderr).toMatch(/creating table .*agents failed: InternalServerError/);
});

test('CouchDB: listing, reading and creating databases fail transiently, and the runs still complete', async () => {
  const prefix = `${uniquePrefix()}_`;
  const { file, counts } = exportFor(prefix, { agents: 40, users: 30 });
  // `_all_dbs`, `_session`, and GET or PUT of a database: one 500, one answer lost after the server acted, one 503 each.
  const databaseCall = (request: RequestInfo) => {
    const path = request.path.split('?')[0]!;
    if (path === '/_all_dbs' || path === '/_session') return path;
    return /^\/[^/_][^/]*$/.test(path) ? `${request.method} ${path}` : undefined;
  };
  couchProxy.resetCounts();
  couchProxy.plan(firstCallsFail(databaseCall, ['500', 'resetAfterWrite', '503']));
  const imported = await migrate({ from: `file:${file}`, to: asCouch(couchProxy.url), ...quiet });
  expect(imported.ok).toBe(true);
  const backup = join(dir, `${prefix}backup.json`);
  const exported = await migrate({ from: asCouch(couchProxy.url), to: `file:${backup}`, collections: Object.keys(counts), onProgress: () => {}, ...quiet });
  couchProxy.plan(() => 'forward');
  logFaults('database calls → CouchDB', couchProxy);
  expect(exported.ok).toBe(true);
  for (const [collection, n] of Object.entries(counts)) expect(exported.collections[collection]).toMatchObject({ read: n, written: n });
  // The creates (PUT), the reads and counts (GET) of both databases, the session and the listing each failed at first.
  expect(couchProxy.counts['500']).toBeGreaterThanOrEqual(6);
  expect(couchProxy.counts['503']).toBeGreaterThanOrEqual(6);
});
