/**
 * Backups made by IBM's couchbackup CLI, the real one from npm, against pouchdb-server (through a
 * proxy filling two gaps pouchdb-server has, see servers/couchbackup-proxy.ts), read as they are:
 * full and shallow mode, imported into CouchDB and into memory, compared document by document.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { memoryStore } from '../src/stores/memory/store.js';
import { migrate } from '../src/pipeline.js';
import type { Doc } from '../src/types.js';
import { verify } from '../src/verify/verify.js';
import { corpusWithoutBigIntegers, sortById, uniquePrefix } from './corpus.js';
import { startCouchbackupProxy, type CouchbackupProxy } from './servers/couchbackup-proxy.js';
import { basicAuthorization } from './servers/couchdb.js';

const couchdbUrl = inject('couchdbUrl');
// Databases are the admin's to create: the tool writes with the shared server's admin.
const couchUri = inject('couchdbAuthUrl').replace(/^http:/, 'couchdb:');
const couchbackupBin = createRequire(import.meta.url).resolve('@cloudant/couchbackup/bin/couchbackup.bin.js');
const dir = mkdtempSync(join(tmpdir(), 'couchbackup-'));

async function couch(path: string, init: { method?: string; body?: unknown } = {}): Promise<any> {
  const response = await fetch(`${couchdbUrl}/${path}`, {
    method: init.method ?? 'GET',
    // The shared server has an admin: design documents are the database admin's to write.
    headers: { 'content-type': 'application/json', authorization: basicAuthorization() },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  return response.json();
}

/** Runs `couchbackup --db DB --mode MODE --output FILE` against the proxy; resolves with its exit code and stderr. */
function couchbackup(url: string, db: string, mode: 'full' | 'shallow', file: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const args = [couchbackupBin, '--db', db, '--mode', mode, '--output', file];
    if (mode === 'full') args.push('--log', `${file}.log`);
    const child = spawn(process.execPath, args, { env: { ...process.env, COUCH_URL: url }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b) => (stderr += b));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

/** Every document of a database but design documents, without CouchDB's `_rev`. */
async function documentsOf(db: string): Promise<Doc[]> {
  const all = (await couch(`${encodeURIComponent(db)}/_all_docs?include_docs=true`)) as { rows: { id: string; doc: Doc }[] };
  return sortById(all.rows.filter((r) => !r.id.startsWith('_design/')).map(({ doc: { _rev, ...doc } }) => doc));
}

const quiet = { warn: () => {} };
let proxy: CouchbackupProxy;
const db = `${uniquePrefix()}_agents`;
let expected: Doc[];

beforeAll(async () => {
  proxy = await startCouchbackupProxy(couchdbUrl);
  // Gofannon-like documents, one revised (full mode then carries a two-revision `_revisions`), a
  // design document, and one deleted.
  const docs = Object.values(corpusWithoutBigIntegers()).flat();
  memoryStore(db).set(db, new Map(docs.map((d) => [d._id as string, d])));
  expect((await migrate({ from: `memory:${db}`, to: couchUri, ...quiet })).ok).toBe(true);
  const agent = await couch(`${db}/agent-2`);
  await couch(`${db}/agent-2`, { method: 'PUT', body: { ...agent, version: 4, renamed: 'yes' } });
  await couch(`${db}/_design/idx`, { method: 'PUT', body: { language: 'query', views: {} } });
  const gone = await couch(`${db}/gone`, { method: 'PUT', body: { temporary: true } });
  await couch(`${db}/gone?rev=${gone.rev}`, { method: 'DELETE' });
  expected = await documentsOf(db);
  expect(expected.find((d) => d._id === 'agent-2')).toMatchObject({ version: 4, renamed: 'yes' });
  expect(expected.map((d) => d._id)).not.toContain('gone');
});

afterAll(async () => {
  await proxy?.close();
});

describe.each(['full', 'shallow'] as const)('couchbackup --mode %s', (mode) => {
  const file = join(dir, mode, `${db}.txt`);

  beforeAll(async () => {
    mkdirSync(join(dir, mode), { recursive: true });
    const run = await couchbackup(proxy.url, db, mode, file);
    expect(run.code, run.stderr).toBe(0);
  }, 60_000);

  test('the file is couchbackup\'s own: its header line, then arrays of documents with CouchDB\'s revisions', () => {
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(JSON.parse(lines[0]!)).toMatchObject({ name: '@cloudant/couchbackup', mode });
    const stored = lines.slice(1).flatMap((line) => JSON.parse(line) as Doc[]);
    expect(stored.every((d) => typeof d._rev === 'string')).toBe(true);
    expect(stored.some((d) => d._id === '_design/idx')).toBe(true);
    // Full mode keeps each document's revision history; shallow mode does not.
    expect(stored.some((d) => d._revisions !== undefined)).toBe(mode === 'full');
  });

  test('imported into CouchDB, every document is the original, without _rev, _revisions or the design document', async () => {
    const restored = `${db}_${mode}_restored`;
    const report = await migrate({ from: `file:${file}`, to: couchUri, collectionName: restored, ...quiet });
    expect(report.ok).toBe(true);
    expect(report.collections[restored]).toMatchObject({ read: expected.length, written: expected.length, failed: 0 });
    expect(await documentsOf(restored)).toEqual(expected);
    const check = await verify({ from: `file:${file}`, to: couchUri, collectionName: restored, ...quiet });
    expect(check.identical).toBe(true);
    expect(check.collections[restored]).toMatchObject({ source: expected.length, matched: expected.length });
  });

  test('the collection is named after the file; the stored documents are the originals', async () => {
    const store = `cb-${mode}-${db}`;
    const report = await migrate({ from: `file:${file}`, to: `memory:${store}`, ...quiet });
    expect(Object.keys(report.collections)).toEqual([db]);
    expect(sortById([...memoryStore(store).get(db)!.values()])).toEqual(expected);
  });

  test('--include-design keeps the design document, as the CouchDB source does', async () => {
    const report = await migrate({ from: `file:${file}`, to: 'null', includeDesign: true, ...quiet });
    expect(report.collections[db]).toMatchObject({ read: expected.length + 1, written: expected.length + 1 });
  });
});
