/**
 * CouchDB's change feed (`--follow`) and deletes (`Sink.remove`) against pouchdb-server, started by
 * the global setup. Every wait is a gate: the feed is read until it has delivered what the test
 * wrote, never for a while.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, test } from 'vitest';
import couchdbSink, { createSink } from '../src/sinks/couchdb.js';
import couchdbSource from '../src/sources/couchdb.js';
import { openCouch, type CouchClient } from '../src/stores/couchdb/client.js';
import { couchChangeFeed } from '../src/stores/couchdb/change-feed.js';
import { resolveEndpoint } from '../src/stores/couchdb/endpoint.js';
import type { AdapterOptions, ChangeFeed, Doc, Position, SourceChunk } from '../src/types.js';
import stripCouchMeta from '../src/transforms/strip-couch-meta.js';
import { uniquePrefix } from './corpus.js';
import { testAdapterOptions } from './helpers.js';
import { asCouchAdmin } from './servers/couchdb.js';
import { startCouchWriter } from './servers/writer-process.js';

const couchdbUrl = inject('couchdbUrl');
const couchdbAuthUrl = inject('couchdbAuthUrl');
const uri = { scheme: 'couchdb', rest: couchdbAuthUrl.replace(/^http:/, ''), raw: couchdbAuthUrl.replace(/^http:/, 'couchdb:') };
const never = new AbortController().signal;

const raw = (path: string, init?: { method?: string; body?: unknown }) => asCouchAdmin(couchdbUrl, path, init);

/** Creates a database with these documents as the admin; answers the revisions by `_id`. */
async function database(name: string, docs: Doc[] = []): Promise<string> {
  await raw(name, { method: 'PUT' });
  if (docs.length > 0) await bulk(name, docs);
  return name;
}

async function bulk(db: string, docs: Doc[]): Promise<Record<string, string>> {
  const answer = (await raw(`${db}/_bulk_docs`, { method: 'POST', body: { docs } })) as { id: string; rev: string }[];
  return Object.fromEntries(answer.map((r) => [r.id, r.rev]));
}

async function revOf(db: string, id: string): Promise<string> {
  return ((await raw(`${db}/${encodeURIComponent(id)}`)) as { _rev: string })._rev;
}

function feedWith(overrides: Partial<AdapterOptions> = {}): ChangeFeed {
  return couchdbSource(uri, testAdapterOptions(overrides)).feed!;
}

/** What a chunk says, in a form a test can compare: puts as `_id:v`, deletes as `-_id`. */
function changesOf(chunks: SourceChunk[]): string[] {
  return chunks.flatMap((c) => (c.deletes ? c.deletes.map((id) => `-${id}`) : (c.docs as Doc[]).map((d) => `${String(d._id)}:${String(d.v)}`)));
}

/**
 * Reads the feed from `from` until `done` says the chunks so far are enough, then stops it (the
 * gate); answers the chunks. Fails the test if the feed ends or fails first.
 */
async function follow(feed: ChangeFeed, collections: string[], from: Position, done: (chunks: SourceChunk[]) => boolean): Promise<SourceChunk[]> {
  const controller = new AbortController();
  const chunks: SourceChunk[] = [];
  for await (const chunk of feed.changes({ collections: new Set(collections), from, signal: controller.signal })) {
    chunks.push(chunk);
    if (done(chunks)) {
      controller.abort();
      break;
    }
  }
  if (!done(chunks)) throw new Error(`the feed ended before the expected changes: ${JSON.stringify(changesOf(chunks))}`);
  return chunks;
}

const delivered = (...expected: string[]) => (chunks: SourceChunk[]) => expected.every((e) => changesOf(chunks).includes(e));

describe('couchdb change feed', () => {
  test('from a head taken before the writes: creates, updates and deletes, each document at its latest change, each chunk with its position', async () => {
    const db = await database(`${uniquePrefix()}_feed`, [{ _id: 'before', v: 0 }]);
    const feed = feedWith();
    const head = await feed.head([db], never);
    expect(Object.keys(head.since as object)).toEqual([db]);

    const revs = await bulk(db, [{ _id: 'a', v: 1 }, { _id: 'b', v: 1 }]);
    await bulk(db, [{ _id: 'a', _rev: revs.a!, v: 2 }]);
    await bulk(db, [{ _id: 'b', _rev: revs.b!, _deleted: true }]);
    await bulk(db, [{ _id: 'c', v: 1 }]);

    const chunks = await follow(feed, [db], head, delivered('c:1', '-b'));
    // CouchDB lists each document once, at its latest change; one answer comes as its documents, then its deletions.
    expect(changesOf(chunks)).toEqual(['a:2', 'c:1', '-b']);
    expect(chunks.map((c) => (c.deletes ? 'deletes' : 'puts'))).toEqual(['puts', 'deletes']);
    // The documents' chunk keeps the position the answer started from: the deletion after it is not applied yet.
    expect(chunks[0]!.position).toEqual(head);
    expect(chunks[1]!.position).not.toEqual(head);
    expect(chunks.every((c) => c.collection === db && c.position !== undefined)).toBe(true);
    const deletes = chunks.find((c) => c.deletes)!;
    expect(deletes.docs).toEqual([]);
    // Documents come as the snapshot reads them: with _rev, for strip-couch-meta to remove.
    const a = chunks.flatMap((c) => c.docs as Doc[]).find((d) => d._id === 'a')!;
    expect(typeof a._rev).toBe('string');
    expect(stripCouchMeta(a)).toEqual({ _id: 'a', v: 2 });
    // The document written before the head is not delivered again.
    expect(changesOf(chunks)).not.toContain('before:0');
  });

  test('once caught up, a change arrives through the long poll with its document, then one made later too', async () => {
    const db = await database(`${uniquePrefix()}_poll`);
    const feed = feedWith();
    const head = await feed.head([db], never);
    const controller = new AbortController();
    const chunks: SourceChunk[] = [];
    let written = 0;
    for await (const chunk of feed.changes({ collections: new Set([db]), from: head, signal: controller.signal })) {
      chunks.push(chunk);
      // Each write waits for the feed to say it has caught up, so it lands while a long poll waits.
      if (chunk.caughtUp && written < 2) await bulk(db, [{ _id: `w${written}`, v: ++written }]);
      if (delivered('w0:1', 'w1:2')(chunks)) controller.abort();
    }
    expect(changesOf(chunks)).toEqual(['w0:1', 'w1:2']);
    expect(chunks.flatMap((c) => c.docs as Doc[]).every((d) => typeof d._rev === 'string')).toBe(true);
  });

  test('resuming from a chunk position delivers nothing from before it', async () => {
    const db = await database(`${uniquePrefix()}_resume`);
    const feed = feedWith({ batchSize: 2 });
    const head = await feed.head([db], never);
    for (let i = 0; i < 6; i++) await bulk(db, [{ _id: `d${i}`, v: i }]);
    const first = await follow(feed, [db], head, delivered('d5:5'));
    // Two changes per request: several chunks, each carrying where it ends.
    expect(first.filter((c) => c.docs.length > 0).length).toBeGreaterThanOrEqual(3);
    const cut = first.findIndex((c) => changesOf([c]).includes('d2:2'));
    const saved = JSON.parse(JSON.stringify(first[cut]!.position)) as Position;

    await bulk(db, [{ _id: 'after', v: 9 }]);
    const resumed = changesOf(await follow(feed, [db], saved, delivered('after:9')));
    expect(resumed).toEqual([...changesOf(first.slice(cut + 1)), 'after:9']);
    expect(resumed).not.toContain('d2:2');
  });

  test('a change made between the head and the end of the snapshot read is delivered', async () => {
    const db = await database(`${uniquePrefix()}_during`, Array.from({ length: 10 }, (_, i) => ({ _id: `s${i}`, v: 0 })));
    const source = couchdbSource(uri, testAdapterOptions({ batchSize: 3 }));
    const head = await source.feed!.head([db], never);
    const snapshot: string[] = [];
    let changed = false;
    for await (const chunk of source.read({ collections: new Set([db]), signal: never })) {
      snapshot.push(...changesOf([chunk]));
      if (!changed && chunk.docs.length > 0) {
        // Behind the snapshot's cursor: the snapshot itself cannot see these.
        changed = true;
        await bulk(db, [{ _id: 's0', _rev: await revOf(db, 's0'), v: 1 }, { _id: 'a-new', v: 1 }]);
      }
    }
    expect(snapshot).not.toContain('s0:1');
    expect(snapshot).not.toContain('a-new:1');
    const chunks = await follow(source.feed!, [db], head, delivered('s0:1', 'a-new:1'));
    expect(changesOf(chunks).sort()).toEqual(['a-new:1', 's0:1']);
  });

  test('several databases: each followed from its own seq; caught up with lag 0 once every one has nothing pending', async () => {
    const prefix = uniquePrefix();
    const [one, two] = [await database(`${prefix}_one`), await database(`${prefix}_two`)];
    const feed = feedWith();
    const head = await feed.head([one, two], never);
    await bulk(one, [{ _id: 'x', v: 1 }]);
    await bulk(two, [{ _id: 'y', v: 1 }, { _id: 'z', v: 1 }]);
    const chunks = await follow(feed, [one, two], head, (so) => delivered('x:1', 'y:1', 'z:1')(so) && so.at(-1)!.caughtUp === true);
    expect(chunks.filter((c) => c.collection === one).flatMap((c) => changesOf([c]))).toEqual(['x:1']);
    expect(chunks.filter((c) => c.collection === two).flatMap((c) => changesOf([c]))).toEqual(['y:1', 'z:1']);
    const last = chunks.at(-1)!;
    expect(last.lag).toEqual({ changes: 0 });
    expect(Object.keys(last.position!.since as object).sort()).toEqual([one, two]);
    // Nothing claims to be caught up while a database has not answered or has changes queued.
    const complete = chunks.findIndex((_, i) => delivered('x:1', 'y:1', 'z:1')(chunks.slice(0, i + 1)));
    expect(chunks.slice(0, complete).filter((c) => c.caughtUp)).toEqual([]);
  });

  test('with nothing to follow, a chunk with no documents says it is caught up (so --until-caught-up can end)', async () => {
    const db = await database(`${uniquePrefix()}_idle`, [{ _id: 'old', v: 1 }]);
    const feed = feedWith();
    const head = await feed.head([db], never);
    const chunks = await follow(feed, [db], head, (so) => so.some((c) => c.caughtUp));
    expect(chunks).toEqual([{ collection: db, docs: [], position: head, lag: { changes: 0 }, caughtUp: true }]);
  });

  test('design documents follow --include-design, their deletes too', async () => {
    const db = await database(`${uniquePrefix()}_design`);
    const head = await feedWith().head([db], never);
    const revs = await bulk(db, [{ _id: '_design/views', v: 1 }]);
    await bulk(db, [{ _id: '_design/views', _rev: revs['_design/views']!, _deleted: true }, { _id: '_design/other', v: 1 }, { _id: 'data', v: 1 }]);

    expect(changesOf(await follow(feedWith(), [db], head, delivered('data:1')))).toEqual(['data:1']);
    const withDesign = changesOf(await follow(feedWith({ includeDesign: true }), [db], head, delivered('data:1', '-_design/views')));
    expect(withDesign.sort()).toEqual(['-_design/views', '_design/other:1', 'data:1']);
  });

  test('design documents alone still move the position', async () => {
    const db = await database(`${uniquePrefix()}_designonly`);
    const feed = feedWith();
    const head = await feed.head([db], never);
    await bulk(db, [{ _id: '_design/a' }, { _id: '_design/b' }]);
    const chunks = await follow(feed, [db], head, (so) => so.some((c) => c.caughtUp && JSON.stringify(c.position) !== JSON.stringify(head)));
    expect(changesOf(chunks)).toEqual([]);
    await bulk(db, [{ _id: 'later', v: 1 }]);
    expect(changesOf(await follow(feed, [db], chunks.at(-1)!.position!, delivered('later:1')))).toEqual(['later:1']);
  });

  test('a database created after the head is looked for until it appears, then followed from its beginning', async () => {
    const db = `${uniquePrefix()}_later`;
    const real = openCouch(resolveEndpoint(uri, {}));
    let looked = 0;
    // The app creates the database once the feed has looked for it three times.
    const couch: CouchClient = {
      endpoint: real.endpoint,
      async request(request) {
        if (request.path === '_changes' && ++looked === 3) await database(db, [{ _id: 'first', v: 1 }]);
        return real.request(request);
      },
    };
    const feed = couchChangeFeed(couch, { limit: 100, retries: 1, warn: () => {}, absentPollMs: 20 });
    const head = await feed.head([db], never);
    expect(head).toEqual({ since: { [db]: 0 } });
    const chunks = await follow(feed, [db], head, delivered('first:1'));
    // Not there: announced as caught up once (nothing to wait for), then its documents.
    expect(chunks[0]).toMatchObject({ docs: [], caughtUp: true });
    expect(changesOf(chunks)).toEqual(['first:1']);
    expect(looked).toBeGreaterThanOrEqual(3);
  });

  test('a stop while a long poll waits ends the feed at once, not when the poll times out', async () => {
    const db = await database(`${uniquePrefix()}_stop`);
    // A poll far longer than the test's timeout: only the abort can end it.
    const feed = couchChangeFeed(openCouch(resolveEndpoint(uri, {})), { limit: 100, retries: 1, warn: () => {}, pollMs: 600_000 });
    const controller = new AbortController();
    const head = await feed.head([db], never);
    const iterator = feed.changes({ collections: new Set([db]), from: head, signal: controller.signal })[Symbol.asyncIterator]();
    expect((await iterator.next()).value).toMatchObject({ caughtUp: true });
    // The next call is the long poll: nothing changes, so only the abort can answer it.
    const next = iterator.next();
    controller.abort();
    expect(await next).toEqual({ done: true, value: undefined });
  });

  test('a stop reaches a long poll whose answer has begun, even after garbage collections', async () => {
    const db = await database(`${uniquePrefix()}_gc`);
    const probe = fileURLToPath(new URL('./servers/feed-stop-probe.ts', import.meta.url));
    const run = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', probe, couchdbAuthUrl, db], { encoding: 'utf8', timeout: 60_000 });
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('ended\n');
    expect(run.status).toBe(0);
  });

  test('a position from another store is refused with a line', async () => {
    const feed = feedWith();
    const iterator = feed.changes({ collections: new Set(['x']), from: { shardIterators: {} }, signal: never })[Symbol.asyncIterator]();
    await expect(iterator.next()).rejects.toMatchObject({ kind: 'usage', message: expect.stringMatching(/not a CouchDB one/) });
  });

  test('credentials refused while following: one fatal line without the password', async () => {
    const db = await database(`${uniquePrefix()}_auth`);
    const head = await feedWith().head([db], never);
    const wrong = { scheme: 'couchdb', rest: couchdbUrl.replace(/^http:\/\//, '//etl-admin:wrong-pw-123@'), raw: '' };
    const feed = couchdbSource(wrong, testAdapterOptions({ retries: 0 })).feed!;
    const iterator = feed.changes({ collections: new Set([db]), from: head, signal: never })[Symbol.asyncIterator]();
    const error = (await iterator.next().catch((e: unknown) => e)) as Error & { kind: string };
    expect(error.kind).toBe('fatal');
    expect(error.message).toMatch(/refused the credentials for user etl-admin for reading the changes of database/);
    expect(error.message).not.toContain('wrong-pw-123');
  });
});

describe('couchdb remove', () => {
  test('deletes existing documents with their current revision; an absent one counts as removed', async () => {
    const db = await database(`${uniquePrefix()}_remove`, [{ _id: 'a', v: 1 }, { _id: 'b', v: 1 }, { _id: 'keep', v: 1 }]);
    const sink = couchdbSink(uri, testAdapterOptions());
    expect(await sink.remove!(db, ['a', 'never-there', 'b'], never)).toEqual([{ status: 'written' }, { status: 'written' }, { status: 'written' }]);
    const rows = ((await raw(`${db}/_all_docs`)) as { rows: { id: string }[] }).rows.map((r) => r.id);
    expect(rows).toEqual(['keep']);
    // Removing again (a change delivered twice) is still a success.
    expect(await sink.remove!(db, ['a'], never)).toEqual([{ status: 'written' }]);
  });

  test('a document updated between reading its revision and deleting it is still deleted', async () => {
    const db = await database(`${uniquePrefix()}_race`, [{ _id: 'busy', v: 1 }]);
    const real = openCouch(resolveEndpoint(uri, {}));
    let raced = false;
    // The app updates the document just before the delete is posted: the delete meets a conflict.
    const couch: CouchClient = {
      endpoint: real.endpoint,
      async request(request) {
        if (request.path === '_bulk_docs' && !raced) {
          raced = true;
          await bulk(db, [{ _id: 'busy', _rev: await revOf(db, 'busy'), v: 2 }]);
        }
        return real.request(request);
      },
    };
    const sink = createSink(couch, testAdapterOptions());
    expect(await sink.remove!(db, ['busy'], never)).toEqual([{ status: 'written' }]);
    expect(raced).toBe(true);
    expect(await raw(`${db}/busy`)).toMatchObject({ error: 'not_found' });
  });

  test('removing from a database that does not exist removes nothing and fails nothing', async () => {
    const sink = couchdbSink(uri, testAdapterOptions());
    expect(await sink.remove!(`${uniquePrefix()}_nodb`, ['a'], never)).toEqual([{ status: 'written' }]);
  });

  test('a document whose deletion CouchDB refuses is failed with its reason, the others removed', async () => {
    const db = await database(`${uniquePrefix()}_refuse`, [{ _id: 'a' }, { _id: 'b' }]);
    const real = openCouch(resolveEndpoint(uri, {}));
    // A validate_doc_update would refuse it on a real CouchDB; here the answer for `b` says so.
    const couch: CouchClient = {
      endpoint: real.endpoint,
      async request(request) {
        const answer = await real.request(request);
        if (request.path !== '_bulk_docs' || !Array.isArray(answer)) return answer;
        return answer.map((r) => ((r as { id?: string }).id === 'b' ? { id: 'b', error: 'forbidden', reason: 'only admins delete' } : r));
      },
    };
    const outcomes = await createSink(couch, testAdapterOptions()).remove!(db, ['a', 'b'], never);
    expect(outcomes).toEqual([{ status: 'written' }, { status: 'failed', reason: 'CouchDB refused the deletion: forbidden: only admins delete' }]);
  });
});

describe('couchdb follow with the app writing', () => {
  /** Every document of a database without CouchDB's bookkeeping, by `_id`. */
  async function contents(db: string): Promise<Doc[]> {
    const rows = ((await raw(`${db}/_all_docs?include_docs=true`)) as { rows: { doc: Doc }[] }).rows;
    return rows.map((r) => stripCouchMeta(r.doc));
  }

  test('snapshot, then the feed applied by write and remove: the copy equals the source once the writer stops, deletes included', async () => {
    const prefix = uniquePrefix();
    const sources = [`${prefix}_a`, `${prefix}_b`];
    const target = (db: string) => `${db}_copy`;
    for (const db of sources) await database(db, Array.from({ length: 150 }, (_, i) => ({ _id: `k${i}`, v: 0 })));
    const writer = startCouchWriter(couchdbAuthUrl, sources, { WRITER_POOL: '200' });
    await writer.until(20);

    const source = couchdbSource(uri, testAdapterOptions({ batchSize: 50 }));
    const sink = couchdbSink(uri, testAdapterOptions());
    const head = await source.feed!.head(sources, never);
    for await (const chunk of source.read({ collections: new Set(sources), signal: never })) {
      await sink.prepare(target(chunk.collection));
      if (chunk.docs.length > 0) await sink.write(target(chunk.collection), (chunk.docs as Doc[]).map(stripCouchMeta), never);
    }
    const afterSnapshot = writer.ops;

    /** Applies the feed from `from` until `enough`, answering the last position applied. */
    async function apply(from: Position, enough: (chunk: SourceChunk) => boolean | Promise<boolean>): Promise<Position> {
      const controller = new AbortController();
      let position = from;
      for await (const chunk of source.feed!.changes({ collections: new Set(sources), from, signal: controller.signal })) {
        const into = target(chunk.collection);
        await sink.prepare(into);
        const outcomes = chunk.deletes ? await sink.remove!(into, chunk.deletes, never) : await sink.write(into, (chunk.docs as Doc[]).map(stripCouchMeta), never);
        expect(outcomes.filter((o) => o.status !== 'written')).toEqual([]);
        position = chunk.position!;
        if (await enough(chunk)) controller.abort();
      }
      return position;
    }
    // Follow while the writer goes on, then stop it; a feed started after the stop catches up with everything.
    const reached = await apply(head, async () => writer.ops >= afterSnapshot + 150);
    const total = await writer.stop();
    expect(total).toBeGreaterThanOrEqual(afterSnapshot + 150);
    await apply(reached, (chunk) => chunk.caughtUp === true);

    for (const db of sources) {
      const [original, copy] = [await contents(db), await contents(target(db))];
      expect(copy).toEqual(original);
      // The writer deleted seeded documents: gone from the copy too.
      const ids = new Set(original.map((d) => d._id));
      expect(Array.from({ length: 150 }, (_, i) => `k${i}`).filter((id) => !ids.has(id)).length).toBeGreaterThan(0);
    }
  });
});
