/**
 * The package as a library user imports it (`gofannon-etl`, resolved to the built dist/ through
 * the package's own exports), with the README's typed examples: chaining transforms, and
 * examples/stream-copy.ts run as a user runs it, against real servers configured by environment.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, inject, test } from 'vitest';
import { ExactNumber, memoryStore, memoryWriter, migrate, readDocuments, stringifyExact, verify, type Doc, type DocumentRecord, type Progress, type Transform } from 'gofannon-etl';
import { sortById, uniquePrefix } from './corpus.js';
import { startCouch } from './servers/couchdb.js';

test('migrate and verify from the package entry, with typed custom transforms', async () => {
  const users = new Map<string, Doc>([
    ['u1', { _id: 'u1', basicInfo: { email: 'ada@example.com' }, credits: new ExactNumber('9007199254740993'), _rev: '4-x' }],
    ['u2', { _id: 'u2', basicInfo: { email: 'bot@example.test' } }],
  ]);
  memoryStore('library-from').set('users', users);

  const dropTestUsers: Transform = (doc, { collection }) =>
    collection === 'users' && String((doc.basicInfo as Doc | undefined)?.email).endsWith('@example.test') ? null : doc;
  const stampMigration: Transform = async (doc) => ({ ...doc, migrated_at: '2026-11-24T00:00:00Z' });

  const report = await migrate({ from: 'memory:library-from', to: 'memory:library-to', transforms: ['float-to-decimal', dropTestUsers, stampMigration] });
  expect(report.ok).toBe(true);
  expect(report.collections.users).toEqual({ read: 2, written: 1, skipped: 0, dropped: 1, failed: 0, deleted: 0 });
  const copied = memoryStore('library-to').get('users')!.get('u1')!;
  expect(stringifyExact(copied)).toBe('{"_id":"u1","basicInfo":{"email":"ada@example.com"},"credits":9007199254740993,"migrated_at":"2026-11-24T00:00:00Z"}');

  const check = await verify({ from: 'memory:library-from', to: 'memory:library-to', transforms: [dropTestUsers, stampMigration] });
  expect(check.identical).toBe(true);
});

test('migrate({ follow, signal }) from the package entry: the changes a writer makes are applied, progress says so, aborting ends it well', async () => {
  const [from, to] = [uniquePrefix(), uniquePrefix()];
  const app = memoryWriter(from);
  app.put('agents', { _id: 'a1', name: 'first' });
  const stop = new AbortController();
  // The app changes its data once the snapshot has it; the follow is stopped once the last change comes through.
  const live: Transform = (doc) => {
    if (doc._id === 'a1' && doc.name === 'first') {
      app.put('agents', { _id: 'a1', name: 'second' });
      app.delete('agents', 'a1');
      app.put('agents', { _id: 'a2', name: 'last' });
    }
    if (doc._id === 'a2') stop.abort();
    return doc;
  };
  const seen: Progress[] = [];
  const report = await migrate({ from: `memory:${from}`, to: `memory:${to}`, transforms: [live], follow: true, signal: stop.signal, onProgress: (p) => seen.push(p) });
  expect(report).toMatchObject({ ok: true, interrupted: false, follow: { applied: 3 } });
  expect([...memoryStore(to).get('agents')!.keys()]).toEqual(['a2']);
  expect(seen.at(-1)).toMatchObject({ done: true, following: { applied: 3 } });
});

test('the README stream example, examples/stream-copy.ts, copies CouchDB to DynamoDB through a stream transform', async () => {
  const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
  const example = join(root, 'examples', 'stream-copy.ts');
  expect(readFileSync(join(root, 'README.md'), 'utf8')).toContain(readFileSync(example, 'utf8'));

  // A CouchDB of its own, so the databases are named exactly as the app names them; DynamoDB
  // Local keeps a database per access key: this key's is empty.
  const couch = await startCouch();
  try {
    const seeded: Record<string, Doc[]> = {
      agents: [{ _id: 'a1', name: 'Résumé screener', temperature: 0.7 }, { _id: 'a2', name: 'second' }],
      users: [{ _id: 'u1', basicInfo: { email: 'ada@example.com' } }],
      sessions: [{ _id: 's1' }],
    };
    const name = uniquePrefix();
    for (const [collection, docs] of Object.entries(seeded)) memoryStore(name).set(collection, new Map(docs.map((d) => [d._id as string, d])));
    expect((await migrate({ from: `memory:${name}`, to: couch.url.replace(/^http:/, 'couchdb:'), warn: () => {} })).ok).toBe(true);

    const cwd = mkdtempSync(join(tmpdir(), 'stream-copy-'));
    const env = {
      PATH: process.env.PATH,
      HOME: cwd,
      COUCHDB_URL: couch.url,
      DYNAMODB_ENDPOINT_URL: inject('dynamodbUrl'),
      DYNAMODB_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: `example${uniquePrefix()}`,
      AWS_SECRET_ACCESS_KEY: 'exampleSecret',
    };
    const run = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), example], { cwd, env, encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('3 written, 0 failed\n');
    expect(run.status).toBe(0);

    const copied: Record<string, Doc[]> = {};
    const reader = readDocuments('dynamodb', { env });
    for await (const { collection, doc } of reader satisfies AsyncIterable<DocumentRecord>) (copied[collection] ??= []).push(doc);
    expect(Object.keys(copied).sort()).toEqual(['agents', 'users']);
    for (const collection of ['agents', 'users']) {
      const docs = sortById(copied[collection]!);
      expect(docs.map(({ migratedAt: _, ...doc }) => doc)).toEqual(seeded[collection]);
      for (const doc of docs) expect(doc.migratedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    }
  } finally {
    await couch.stop();
  }
});
