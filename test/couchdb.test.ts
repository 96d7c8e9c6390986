/**
 * The CouchDB source and sink against a real CouchDB HTTP API (pouchdb-server, started by the
 * global setup). pouchdb-server is JavaScript: integers beyond 2^53 do not survive it, so the
 * shared corpus is used without them here (a real CouchDB keeps them; see the README).
 */
import { describe, expect, inject, test } from 'vitest';
import couchdbSink from '../src/sinks/couchdb.js';
import couchdbSource from '../src/sources/couchdb.js';
import type { AdapterOptions, Doc, Sink, Source, SourceChunk } from '../src/types.js';
import stripCouchMeta from '../src/transforms/strip-couch-meta.js';
import { describeConformance } from './conformance.js';
import { corpusWithoutBigIntegers, uniquePrefix } from './corpus.js';
import { testAdapterOptions } from './helpers.js';
import { asCouchAdmin } from './servers/couchdb.js';
import { freePort } from './servers/free-port.js';

// The shared pouchdb-server has an admin: the adapters and raw calls use its credentials.
const couchdbUrl = inject('couchdbUrl');
const couchdbAuthUrl = inject('couchdbAuthUrl');
const uri = { scheme: 'couchdb', rest: couchdbAuthUrl.replace(/^http:/, ''), raw: couchdbAuthUrl.replace(/^http:/, 'couchdb:') };

describeConformance('couchdb', {
  sink: async (o) => couchdbSink(uri, testAdapterOptions(o)),
  source: async (o) => couchdbSource(uri, testAdapterOptions(o)),
  corpus: corpusWithoutBigIntegers,
  // CouchDB adds its own revision to every document it stores.
  normalize: stripCouchMeta,
  removes: true,
  refuses: [
    { doc: { _id: 'underscore-field', _foo: 1 }, reason: /"_foo".*Bad special document member/ },
    { doc: { _id: '_secret' }, reason: /starts with "_"/ },
  ],
});

const signal = new AbortController().signal;

const raw = (path: string, init?: { method?: string; body?: unknown }) => asCouchAdmin(couchdbUrl, path, init);

async function readAll(source: Source, collection: string): Promise<SourceChunk[]> {
  const chunks: SourceChunk[] = [];
  for await (const chunk of source.read({ collections: new Set([collection]), signal })) chunks.push(chunk);
  return chunks;
}

const docsOf = (chunks: SourceChunk[]) => chunks.flatMap((c) => c.docs as Doc[]);
/** The documents without CouchDB's bookkeeping, as the default transform leaves them. */
const dataOf = (chunks: SourceChunk[]) => docsOf(chunks).map(stripCouchMeta);

async function sinkWith(overrides: Partial<AdapterOptions> = {}): Promise<Sink> {
  return couchdbSink(uri, testAdapterOptions(overrides));
}

describe('couchdb source', () => {
  test('skips design documents unless asked to include them', async () => {
    const db = `${uniquePrefix()}_design`;
    await raw(db, { method: 'PUT' });
    await raw(`${db}/_bulk_docs`, { method: 'POST', body: { docs: [{ _id: '_design/views', views: {} }, { _id: 'a', v: 1 }] } });

    const plain = docsOf(await readAll(couchdbSource(uri, testAdapterOptions()), db));
    expect(plain.map((d) => d._id)).toEqual(['a']);

    const withDesign = docsOf(await readAll(couchdbSource(uri, testAdapterOptions({ includeDesign: true })), db));
    expect(withDesign.map((d) => d._id).sort()).toEqual(['_design/views', 'a']);
  });

  test('reads _rev and _attachment stubs for the transforms, and reports how many documents had attachments', async () => {
    const db = `${uniquePrefix()}_att`;
    await raw(db, { method: 'PUT' });
    const attachment = { 'note.txt': { content_type: 'text/plain', data: Buffer.from('hello').toString('base64') } };
    await raw(`${db}/_bulk_docs`, {
      method: 'POST',
      body: { docs: [{ _id: 'a', _attachments: attachment, v: 1 }, { _id: 'b', _attachments: attachment }, { _id: 'c' }] },
    });
    const options = testAdapterOptions();
    const docs = docsOf(await readAll(couchdbSource(uri, options), db));
    expect(docs.map((d) => [d._id, typeof d._rev, Object.keys((d._attachments ?? {}) as object)])).toEqual([['a', 'string', ['note.txt']], ['b', 'string', ['note.txt']], ['c', 'string', []]]);
    expect(docs.map(stripCouchMeta)).toEqual([{ _id: 'a', v: 1 }, { _id: 'b' }, { _id: 'c' }]);
    expect(options.warnings).toEqual([`couchdb ${db}: 2 documents had attachments, whose contents are not copied`]);
  });

  test('pages by start key: a page of design documents only and a short last page', async () => {
    const db = `${uniquePrefix()}_pages`;
    const sink = await sinkWith();
    await sink.prepare(db);
    const docs = Array.from({ length: 23 }, (_, i) => ({ _id: `d${String(i).padStart(3, '0')}`, i }));
    await sink.write(db, docs, signal);
    await raw(`${db}/_bulk_docs`, { method: 'POST', body: { docs: [1, 2, 3, 4, 5, 6].map((n) => ({ _id: `_design/v${n}` })) } });
    const chunks = await readAll(couchdbSource(uri, testAdapterOptions({ batchSize: 5 })), db);
    expect(dataOf(chunks)).toEqual(docs);
    expect(chunks.every((c) => c.docs.length <= 5)).toBe(true);
  });

  test('lists databases without the system ones and counts documents', async () => {
    const db = `${uniquePrefix()}_count`;
    const sink = await sinkWith();
    await sink.prepare(db);
    await sink.write(db, [{ _id: 'a' }, { _id: 'b' }], signal);
    const source = couchdbSource(uri, testAdapterOptions());
    const names = (await source.listCollections())!;
    expect(names).toContain(db);
    expect(names.some((n) => n.startsWith('_'))).toBe(false);
    expect(await source.count!(db)).toBe(2);
  });

  test('warns about a chosen collection the server does not hold', async () => {
    const options = testAdapterOptions();
    const chunks = await readAll(couchdbSource(uri, options), `${uniquePrefix()}_absent`);
    expect(chunks).toEqual([]);
    expect(options.warnings[0]).toMatch(/no database .*_absent/);
  });
});

describe('couchdb sink', () => {
  test('overwrites documents that already exist (conflict → current revision → written again)', async () => {
    const db = `${uniquePrefix()}_reimport`;
    const sink = await sinkWith({ onConflict: 'overwrite' });
    await sink.prepare(db);
    const docs = Array.from({ length: 30 }, (_, i) => ({ _id: `doc-${i}`, v: 1 }));
    expect(await sink.write(db, docs, signal)).toEqual(docs.map(() => ({ status: 'written' })));
    const again = docs.map((d, i) => ({ ...d, v: i % 2 ? 2 : 1 }));
    expect(await sink.write(db, [...again, { _id: 'new', v: 1 }], signal)).toEqual([...again, {}].map(() => ({ status: 'written' })));
    const stored = dataOf(await readAll(couchdbSource(uri, testAdapterOptions()), db));
    expect(stored.find((d) => d._id === 'doc-1')).toEqual({ _id: 'doc-1', v: 2 });
    expect(stored).toHaveLength(31);
  });

  test('writes a document that carries a _rev from another database', async () => {
    const db = `${uniquePrefix()}_foreignrev`;
    const sink = await sinkWith({ onConflict: 'fail' });
    await sink.prepare(db);
    expect(await sink.write(db, [{ _id: 'a', _rev: '7-abc', v: 1 }], signal)).toEqual([{ status: 'written' }]);
  });

  test('--on-conflict skip and fail answer per document', async () => {
    const db = `${uniquePrefix()}_conflict`;
    await (await sinkWith()).prepare(db);
    await (await sinkWith()).write(db, [{ _id: 'old', v: 1 }], signal);
    const batch = [{ _id: 'old', v: 2 }, { _id: 'fresh', v: 2 }];
    expect(await (await sinkWith({ onConflict: 'skip' })).write(db, batch, signal)).toEqual([
      { status: 'skipped', reason: 'exists in target' },
      { status: 'written' },
    ]);
    const failed = await (await sinkWith({ onConflict: 'fail' })).write(db, [{ _id: 'old', v: 3 }], signal);
    expect(failed).toEqual([{ status: 'failed', reason: 'conflict: _id old exists in target' }]);
    const stored = dataOf(await readAll(couchdbSource(uri, testAdapterOptions()), db));
    expect(stored).toEqual([{ _id: 'fresh', v: 2 }, { _id: 'old', v: 1 }]);
  });

  test('check rejects what CouchDB would: unknown _ fields, reserved ids, oversized documents', async () => {
    const sink = await sinkWith();
    expect(sink.check!({ _id: 'a', _foo: 1 }, 'c')).toMatch(/"_foo".*Bad special document member/);
    expect(sink.check!({ _id: '_secret' }, 'c')).toMatch(/starts with "_"/);
    expect(sink.check!({ _id: '' }, 'c')).toMatch(/non-empty string/);
    expect(sink.check!({ _id: 'big', blob: 'x'.repeat(8_000_001) }, 'c')).toMatch(/over CouchDB's max_document_size/);
    expect(sink.check!({ _id: 'ok', nested: { _fine: 1 }, _deleted: false }, 'c')).toBeUndefined();
    expect(sink.check!({ _id: '_design/views', views: {} }, 'c')).toBeUndefined();
  });

  test('a document CouchDB itself rejects fails alone while the rest of the batch is written', async () => {
    const db = `${uniquePrefix()}_reject`;
    const sink = await sinkWith();
    await sink.prepare(db);
    // Written without `check` (as a caller skipping it would): CouchDB's own per-document answer.
    const outcomes = await sink.write(db, [{ _id: 'a' }, { _id: 'b', _foo: 1 }, { _id: 'c' }], signal);
    expect(outcomes[0]).toEqual({ status: 'written' });
    expect(outcomes[1]).toMatchObject({ status: 'failed', reason: expect.stringMatching(/CouchDB rejected the document: .*_foo/) });
    expect(outcomes[2]).toEqual({ status: 'written' });
  });

  test('refuses a collection name CouchDB cannot hold as a database', async () => {
    const sink = await sinkWith();
    await expect(sink.prepare('Agents')).rejects.toMatchObject({ kind: 'usage', message: expect.stringMatching(/collection "Agents"/) });
  });

  test('prepare leaves an existing database alone', async () => {
    const db = `${uniquePrefix()}_exists`;
    await (await sinkWith()).prepare(db);
    await (await sinkWith()).write(db, [{ _id: 'a' }], signal);
    await (await sinkWith()).prepare(db);
    expect(await couchdbSource(uri, testAdapterOptions()).count!(db)).toBe(1);
    expect(await (await sinkWith()).wouldCreate!(db)).toBeUndefined();
    expect(await (await sinkWith()).wouldCreate!(`${db}_not`)).toMatch(/CouchDB database/);
  });
});

describe('couchdb configuration', () => {
  test('reads COUCHDB_URL from the given env', async () => {
    const source = couchdbSource({ scheme: 'couchdb', rest: '', raw: 'couchdb' }, testAdapterOptions({ env: { COUCHDB_URL: couchdbUrl } }));
    expect(source.label).toBe(`couchdb://${couchdbUrl.replace('http://', '')}`);
    expect(await source.listCollections()).toBeInstanceOf(Array);
  });

  test('sends COUCHDB_USER and COUCHDB_PASSWORD; refused credentials are one fatal line without the password', async () => {
    const env = { COUCHDB_URL: couchdbUrl, COUCHDB_USER: 'admin', COUCHDB_PASSWORD: 'hunter2-env' };
    const source = couchdbSource({ scheme: 'couchdb', rest: '', raw: 'couchdb' }, testAdapterOptions({ env }));
    expect(source.label).toBe(`couchdb://admin:***@${couchdbUrl.replace('http://', '')}`);
    // pouchdb-server has no such user, so it refuses them: proof the credentials were sent.
    const error = (await source.listCollections().catch((e: unknown) => e)) as Error & { kind: string };
    expect(error.kind).toBe('fatal');
    expect(error.message).toMatch(/^CouchDB at 127\.0\.0\.1:\d+ refused the credentials for user admin for listing databases/);
    expect(error.message).not.toContain('hunter2');
  });

  test('a bare couchdb without COUCHDB_URL is a usage error naming the variable', () => {
    expect(() => couchdbSource({ scheme: 'couchdb', rest: '', raw: 'couchdb' }, testAdapterOptions())).toThrow(/COUCHDB_URL/);
  });

  test('credentials in the URL never appear in labels, identities or errors', async () => {
    const port = await freePort();
    const source = couchdbSource({ scheme: 'couchdb', rest: `//ada:s3cr3t-pw@127.0.0.1:${port}`, raw: '' }, testAdapterOptions({ retries: 0 }));
    expect(source.label).toBe(`couchdb://ada:***@127.0.0.1:${port}`);
    expect(await source.identity()).not.toContain('s3cr3t');
    const error = (await source.listCollections().catch((e: Error) => e)) as Error;
    expect(error.message).not.toContain('s3cr3t');
  });

  test('https via couchdbs:// and couchdb:https://', () => {
    expect(couchdbSource({ scheme: 'couchdbs', rest: '//u:p4ss@db.example:6984', raw: '' }, testAdapterOptions()).label).toBe('couchdbs://u:***@db.example:6984');
    expect(couchdbSource({ scheme: 'couchdb', rest: 'https://db.example/couch', raw: '' }, testAdapterOptions()).label).toBe('couchdbs://db.example/couch');
  });

  test('an unreachable server is one fatal line naming host and port', async () => {
    const port = await freePort();
    const sink = couchdbSink({ scheme: 'couchdb', rest: `//admin:pw-unreach@127.0.0.1:${port}`, raw: '' }, testAdapterOptions({ retries: 1 }));
    const error = (await sink.prepare('agents').catch((e: unknown) => e)) as Error & { kind: string };
    expect(error.kind).toBe('fatal');
    expect(error.message).toBe(`cannot reach CouchDB at 127.0.0.1:${port}: connection refused`);
  });
});
