/**
 * `--follow` from CouchDB through the built CLI, with the app (test/servers/couch-writer.ts)
 * inserting, updating and deleting all along: the snapshot is held while the app changes documents
 * it has already read, the follower is killed with SIGKILL mid-way and resumed, and once the app
 * stops, `--until-caught-up --verify` finds the target identical, deletes included. Every wait is a
 * gate: a line the process prints, the writer's count, or the checkpoint polled with a deadline.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, inject, test } from 'vitest';
import type { Doc, RunReport } from '../src/types.js';
import stripCouchMeta from '../src/transforms/strip-couch-meta.js';
import { uniquePrefix } from './corpus.js';
import { eventually, feedApplied as savedFeedApplied, holdTransform, startFollower } from './follow-cli.js';
import { asCouchAdmin, startCouch, testCouchAdmin, withTestAdmin } from './servers/couchdb.js';
import { startCouchWriter } from './servers/writer-process.js';

const couchdbUrl = inject('couchdbUrl');
const couchdbAuthUrl = inject('couchdbAuthUrl');
const dir = mkdtempSync(join(tmpdir(), 'couchdb-follow-cli-'));

writeFileSync(join(dir, 'hold.mjs'), holdTransform);
const startCli = (args: string[], env: NodeJS.ProcessEnv = {}) => startFollower(dir, args, env);
const feedApplied = (checkpoint: string) => savedFeedApplied(join(dir, checkpoint));

const couchUri = couchdbAuthUrl.replace(/^http:/, 'couchdb:');

interface Target {
  uri: string;
  /** What the target holds under this `_id`, if anything, in the form `shape` gives a document. */
  read(collection: string, id: string): Promise<unknown>;
  shape(doc: Doc): unknown;
}

/**
 * The cutover, from CouchDB to `target`: the app writes all along; the snapshot is held while the
 * app changes what it already read; the follower is killed mid-way and the app goes on; once the
 * app stops, a resumed `--until-caught-up --verify` finds the target identical.
 */
async function cutover(target: Target): Promise<void> {
  const prefix = uniquePrefix();
  const collections = [`${prefix}_agents`, `${prefix}_sessions`];
  for (const db of collections) {
    await asCouchAdmin(couchdbUrl, db, { method: 'PUT' });
    // `a-…` sort first, so the snapshot has read them when it is held; the app never touches them.
    const seeded = [{ _id: 'a-updated', v: 0 }, { _id: 'a-deleted', v: 0 }, ...Array.from({ length: 200 }, (_, i) => ({ _id: `k${i}`, v: 0 }))];
    await asCouchAdmin(couchdbUrl, `${db}/_bulk_docs`, { method: 'POST', body: { docs: seeded } });
  }
  const writer = startCouchWriter(couchdbAuthUrl, collections, { WRITER_POOL: '250' });
  await writer.until(10);

  const run = ['--from', couchUri, '--to', target.uri, '--collections', collections.join(','), '--follow', '--checkpoint', `${prefix}.ckpt`, '--batch-size', '25', '--concurrency', '4', '--transform', './hold.mjs'];
  const first = startCli(run, { HOLD_AT: '30' });
  // The snapshot has read its first pages: the app changes and deletes documents it already holds.
  await first.said('held');
  for (const db of collections) {
    const [updated, deleted] = [await asCouchAdmin(couchdbUrl, `${db}/a-updated`), await asCouchAdmin(couchdbUrl, `${db}/a-deleted`)];
    await asCouchAdmin(couchdbUrl, `${db}/a-updated`, { method: 'PUT', body: { ...updated, v: 'changed during the snapshot' } });
    await asCouchAdmin(couchdbUrl, `${db}/a-deleted?rev=${deleted._rev}`, { method: 'DELETE' });
  }
  await writer.until(writer.ops + 60);
  first.child.kill('SIGUSR2');
  // Following: the feed has applied changes (they include those made while the snapshot was held).
  await eventually('the first run applies 40 changes', () => feedApplied(`${prefix}.ckpt`) >= 40);
  first.child.kill('SIGKILL');
  expect((await first.done).signal).toBe('SIGKILL');

  // The app goes on while no one follows, then stops: the cutover.
  await writer.until(writer.ops + 100);
  const total = await writer.stop();
  expect(total).toBeGreaterThan(170);

  const resumed = await startCli([...run, '--resume', '--until-caught-up', '--verify', '--report', `${prefix}.json`]).done;
  expect(resumed.code, resumed.stderr).toBe(0);
  expect(resumed.stdout).toMatch(/^Following: \d+ changes? applied .*caught up with the source\.$/m);
  expect(resumed.stdout).toMatch(/^Identical: .+ holds exactly what .+ holds\.$/m);
  const report = JSON.parse(readFileSync(join(dir, `${prefix}.json`), 'utf8')) as RunReport;
  expect(report.ok).toBe(true);
  expect(report.follow!.applied).toBeGreaterThan(0);
  // What the killed run had sent past its saved position comes again: at most its batches in flight and a chunk.
  expect(report.follow!.reapplied).toBeLessThanOrEqual((4 + 1) * 25 + 25);
  // Deletes reached the target: the documents the app deleted are not there.
  for (const db of collections) {
    // The changes made while the snapshot was held, to documents it had read: both applied.
    expect(await target.read(db, 'a-updated')).toEqual(target.shape({ _id: 'a-updated', v: 'changed during the snapshot' }));
    expect(await target.read(db, 'a-deleted')).toBeUndefined();
    const rows = ((await asCouchAdmin(couchdbUrl, `${db}/_all_docs`)) as { rows: { id: string }[] }).rows;
    const kept = new Set(rows.map((r) => r.id));
    const deleted = Array.from({ length: 200 }, (_, i) => `k${i}`).filter((id) => !kept.has(id));
    expect(deleted.length).toBeGreaterThan(0);
    for (const id of deleted.slice(0, 5)) expect(await target.read(db, id)).toBeUndefined();
  }
}

test('CouchDB → CouchDB (another server): followed while the app writes, killed, resumed; identical once the app stops, deletes included', async () => {
  const other = await startCouch(testCouchAdmin);
  try {
    await cutover({
      uri: withTestAdmin(other.url).replace(/^http:/, 'couchdb:'),
      read: async (db, id) => {
        const doc = (await asCouchAdmin(other.url, `${db}/${id}`)) as Doc;
        return 'error' in doc ? undefined : stripCouchMeta(doc);
      },
      shape: (doc) => doc,
    });
  } finally {
    await other.stop();
  }
}, 180_000);

test('SIGTERM while the feed waits for a change ends the follow at once: exit 0, the summary, the command that goes on', async () => {
  const db = `${uniquePrefix()}_idle`;
  await asCouchAdmin(couchdbUrl, db, { method: 'PUT' });
  const other = await startCouch(testCouchAdmin);
  try {
    const follower = startCli(['--from', couchUri, '--to', withTestAdmin(other.url).replace(/^http:/, 'couchdb:'), '--collections', db, '--follow', '--checkpoint', `${db}.ckpt`]);
    // Caught up and waiting in a long poll (CouchDB's lasts 25 s): the stop must not wait for it.
    await eventually('the follow has a feed position', () => feedApplied(`${db}.ckpt`) >= 0);
    // The feed has answered that nothing waits (a progress line says so): on a loaded machine its
    // first answer can come after the position is saved, and a stop before it is not caught up.
    await follower.said('caught up with the source');
    const stopped = Date.now();
    follower.child.kill('SIGTERM');
    const result = await follower.done;
    expect(result.code, result.stderr).toBe(0);
    expect(Date.now() - stopped).toBeLessThan(10_000);
    expect(result.stdout).toMatch(/^Following: 0 changes applied .*caught up with the source\.$/m);
    expect(result.stdout).toContain(`--checkpoint ${db}.ckpt --follow --resume`);
    expect(result.stdout + result.stderr).not.toContain(testCouchAdmin.password);
  } finally {
    await other.stop();
  }
}, 60_000);
