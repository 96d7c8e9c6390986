/**
 * What pouchdb-server cannot show: a stub server speaking CouchDB's HTTP shapes.
 * - Numbers on the wire: pouchdb-server (JavaScript) cannot hold integers beyond 2^53, a real
 *   CouchDB does; the sink must send the exact digits and the source read them back unrounded.
 * - Faults: 503s, 429s and dropped connections are retried; a batch still unwritten when the
 *   budget is spent is reported failed, document by document.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, expect, test } from 'vitest';
import { ExactNumber } from '../src/formats/exact-number.js';
import couchdbSink, { createSink } from '../src/sinks/couchdb.js';
import { CouchConnectionError, type CouchClient } from '../src/stores/couchdb/client.js';
import { resolveEndpoint } from '../src/stores/couchdb/endpoint.js';
import couchdbSource from '../src/sources/couchdb.js';
import type { AdapterOptions, Doc, Sink, SourceChunk } from '../src/types.js';
import { testAdapterOptions } from './helpers.js';

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;
let handler: Handler;
let server: Server;
let port: number;
const signal = new AbortController().signal;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (b) => (body += b));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      handler(req, body, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

beforeEach(() => {
  handler = (_req, _body, res) => {
    res.statusCode = 404;
    res.end('{"error":"not_found","reason":"missing"}');
  };
});

const uri = () => ({ scheme: 'couchdb', rest: `//127.0.0.1:${port}`, raw: '' });
const sinkWith = (o: Partial<AdapterOptions> = {}): Sink => couchdbSink(uri(), testAdapterOptions(o));

/** Answers every document of a _bulk_docs post with ok. */
function okFor(body: string): string {
  const docs = (JSON.parse(body) as { docs: Doc[] }).docs;
  return JSON.stringify(docs.map((d) => ({ ok: true, id: d._id, rev: '1-x' })));
}

test('the source parses integers beyond 2^53 and 1.0 exactly', async () => {
  const stored = '{"_id":"user-1","_rev":"1-a","tokens":9007199254740993,"credits":-9223372036854775808,"ratio":1.0,"cost":12.34}';
  handler = (req, _body, res) => {
    if (req.url === '/_all_dbs') return res.end('["users"]');
    res.end(`{"total_rows":1,"offset":0,"rows":[{"id":"user-1","key":"user-1","value":{"rev":"1-a"},"doc":${stored}}]}`);
  };
  const chunks: SourceChunk[] = [];
  for await (const chunk of couchdbSource(uri(), testAdapterOptions()).read({ signal })) chunks.push(chunk);
  expect(chunks.flatMap((c) => c.docs as Doc[])).toEqual([
    { _id: 'user-1', _rev: '1-a', tokens: new ExactNumber('9007199254740993'), credits: new ExactNumber('-9223372036854775808'), ratio: new ExactNumber('1.0'), cost: 12.34 },
  ]);
});

test('the sink sends exact digits to _bulk_docs', async () => {
  let posted = '';
  handler = (_req, body, res) => {
    posted = body;
    res.end(okFor(body));
  };
  const sink = sinkWith();
  const doc: Doc = { _id: 'user-1', tokens: new ExactNumber('9007199254740993'), ratio: new ExactNumber('1.0') };
  expect(sink.check!(doc, 'users')).toBeUndefined();
  expect(await sink.write('users', [doc], signal)).toEqual([{ status: 'written' }]);
  expect(posted).toBe('{"docs":[{"_id":"user-1","tokens":9007199254740993,"ratio":1.0}]}');
});

test('429, 503 and a dropped connection are retried until the batch is written', async () => {
  const faults = ['429', 'drop', '503'];
  let posts = 0;
  handler = (_req, body, res) => {
    posts++;
    const fault = faults.shift();
    if (fault === 'drop') return res.socket!.destroy();
    if (fault) {
      res.statusCode = Number(fault);
      return res.end('{"error":"busy","reason":"try later"}');
    }
    res.end(okFor(body));
  };
  const outcomes = await sinkWith({ retries: 5 }).write('c', [{ _id: 'a' }, { _id: 'b' }], signal);
  expect(outcomes).toEqual([{ status: 'written' }, { status: 'written' }]);
  expect(posts).toBe(4);
});

test('a batch still refused when the retry budget is spent is failed per document, with the reason', async () => {
  handler = (_req, _body, res) => {
    res.statusCode = 503;
    res.end('{"error":"unavailable","reason":"node down"}');
  };
  const outcomes = await sinkWith({ retries: 1 }).write('c', [{ _id: 'a' }, { _id: 'b' }], signal);
  const reason = 'CouchDB answered 503 unavailable: node down (gave up after 2 attempts)';
  expect(outcomes).toEqual([{ status: 'failed', reason }, { status: 'failed', reason }]);
});

test('a batch refused as a whole for one invalid document is split until the others are written', async () => {
  const posts: number[] = [];
  handler = (_req, body, res) => {
    const docs = (JSON.parse(body) as { docs: Doc[] }).docs;
    posts.push(docs.length);
    if (docs.some((d) => d._id === 'bad')) {
      res.statusCode = 400;
      return res.end('{"error":"doc_validation","reason":"Bad special document member: _x"}');
    }
    res.end(okFor(body));
  };
  const docs = ['a', 'b', 'bad', 'c', 'd'].map((_id) => ({ _id }));
  const outcomes = await sinkWith().write('c', docs, signal);
  expect(outcomes.map((o) => o.status)).toEqual(['written', 'written', 'failed', 'written', 'written']);
  expect(outcomes[2]).toEqual({ status: 'failed', reason: 'CouchDB rejected the document: doc_validation: Bad special document member: _x' });
  expect(posts.length).toBeLessThanOrEqual(7);
});

test('an overwrite that keeps conflicting gives up after a bounded number of rounds', async () => {
  let revReads = 0;
  handler = (req, body, res) => {
    if (req.url === '/c/_all_docs') {
      revReads++;
      return res.end('{"rows":[{"id":"a","key":"a","value":{"rev":"1-x"}}]}');
    }
    res.end(JSON.stringify((JSON.parse(body) as { docs: Doc[] }).docs.map((d) => ({ id: d._id, error: 'conflict', reason: 'Document update conflict.' }))));
  };
  const [outcome] = await sinkWith().write('c', [{ _id: 'a' }], signal);
  expect(outcome).toMatchObject({ status: 'failed', reason: expect.stringMatching(/kept changing/) });
  expect(revReads).toBe(4);
});

test('database calls ride out dropped connections under the run\'s retries; a server that is not there fails at once', async () => {
  const endpoint = resolveEndpoint({ scheme: 'couchdb', rest: '//127.0.0.1:1', raw: 'couchdb://127.0.0.1:1' }, {});
  /** A client failing its first requests with `codes` in turn, then answering; counts the requests. */
  const failing = (codes: string[]) => {
    const client = {
      endpoint,
      calls: 0,
      request: async () => {
        const code = codes[client.calls++];
        if (code) throw new CouchConnectionError(code, code === 'ECONNREFUSED' ? 'connection refused' : 'connection reset');
        return { ok: true };
      },
    };
    return client satisfies CouchClient;
  };
  const dropped = failing(['ECONNRESET', 'ECONNRESET']);
  await createSink(dropped, testAdapterOptions({ retries: 2 })).prepare('agents');
  expect(dropped.calls).toBe(3);
  const refused = failing(['ECONNREFUSED', 'ECONNREFUSED', 'ECONNREFUSED']);
  await expect(createSink(refused, testAdapterOptions({ retries: 8 })).prepare('agents')).rejects.toThrow('cannot reach CouchDB at 127.0.0.1:1: connection refused');
  expect(refused.calls).toBe(1);
});

test('the change feed: opaque seqs handed back as given, pending as lag, exact digits, faults retried', async () => {
  const asked: string[] = [];
  const faults = ['503', 'drop'];
  const seq1 = '5-g1AAAAB7eJzLYWBgYMpgTmHgz8tPSTV0MDQy';
  const seq2 = '7-g1AAAACLeJzLYWBgYMpgTmHgz8tPSTV0MDQy';
  handler = (req, _body, res) => {
    const url = new URL(req.url!, 'http://x');
    if (url.pathname === '/users') return res.end(JSON.stringify({ db_name: 'users', update_seq: seq1 }));
    asked.push(url.searchParams.get('since')!);
    const fault = faults.shift();
    if (fault === 'drop') return res.socket!.destroy();
    if (fault) {
      res.statusCode = 503;
      return res.end('{"error":"unavailable","reason":"node down"}');
    }
    // A real CouchDB says how many changes remain after this answer.
    res.end(
      `{"results":[{"seq":"6-x","id":"user-1","changes":[{"rev":"2-b"}],"doc":{"_id":"user-1","_rev":"2-b","tokens":9007199254740993}},` +
        `{"seq":"${seq2}","id":"gone","deleted":true,"changes":[{"rev":"3-c"}],"doc":{"_id":"gone","_rev":"3-c","_deleted":true}}],"last_seq":"${seq2}","pending":4}`,
    );
  };
  const feed = couchdbSource(uri(), testAdapterOptions({ retries: 3 })).feed!;
  const head = await feed.head(['users'], signal);
  expect(head).toEqual({ since: { users: seq1 } });
  const controller = new AbortController();
  const chunks: SourceChunk[] = [];
  for await (const chunk of feed.changes({ collections: new Set(['users']), from: head, signal: controller.signal })) {
    chunks.push(chunk);
    if (chunks.length === 2) controller.abort();
  }
  expect(asked.slice(0, 3)).toEqual([seq1, seq1, seq1]);
  // The documents come first and keep the answer's starting position: the deletion after them is not applied yet.
  expect(chunks[0]).toMatchObject({ docs: [{ _id: 'user-1', _rev: '2-b', tokens: new ExactNumber('9007199254740993') }], position: { since: { users: seq1 } }, lag: { changes: 5 } });
  expect(chunks[0]!.caughtUp).toBeUndefined();
  expect(chunks[1]).toMatchObject({ docs: [], deletes: ['gone'], position: { since: { users: seq2 } }, lag: { changes: 4 } });
});

test('remove: a revision read failing past the budget fails the deletes with the reason, never drops them', async () => {
  handler = (_req, _body, res) => {
    res.statusCode = 503;
    res.end('{"error":"unavailable","reason":"node down"}');
  };
  const outcomes = await sinkWith({ retries: 1 }).remove!('c', ['a', 'b'], signal);
  const reason = 'reading the current revision to delete it failed: CouchDB answered 503 unavailable: node down';
  expect(outcomes).toEqual([{ status: 'failed', reason }, { status: 'failed', reason }]);
});

test('the change feed: a database deleted while being followed stops it with a line naming it', async () => {
  let polls = 0;
  handler = (req, _body, res) => {
    const url = new URL(req.url!, 'http://x');
    if (url.pathname === '/users') return res.end('{"db_name":"users","update_seq":"3-a"}');
    // CouchDB answers the feed of a deleted database 404 (pouchdb-server keeps a poll open instead).
    if (polls++ > 0) {
      res.statusCode = 404;
      return res.end('{"error":"not_found","reason":"Database does not exist."}');
    }
    res.end('{"results":[],"last_seq":"3-a","pending":0}');
  };
  const feed = couchdbSource(uri(), testAdapterOptions({ retries: 0 })).feed!;
  const head = await feed.head(['users'], signal);
  const seen: SourceChunk[] = [];
  const error = await (async () => {
    for await (const chunk of feed.changes({ collections: new Set(['users']), from: head, signal })) seen.push(chunk);
  })().catch((e: unknown) => e);
  expect(seen).toMatchObject([{ caughtUp: true }]);
  expect(error).toMatchObject({ kind: 'fatal', message: `CouchDB at 127.0.0.1:${port}: database users was deleted while being followed, so the deletions of its documents cannot be followed` });
});

test('the change feed: an _id listed twice in one answer (shards moved) counts at its last row only', async () => {
  handler = (req, _body, res) => {
    const url = new URL(req.url!, 'http://x');
    if (url.pathname === '/users') return res.end('{"db_name":"users","update_seq":"1-a"}');
    res.end(
      JSON.stringify({
        results: [
          { seq: '2-a', id: 'x', changes: [], doc: { _id: 'x', v: 1 } },
          { seq: '3-a', id: 'y', deleted: true, changes: [], doc: { _id: 'y', _deleted: true } },
          { seq: '4-a', id: 'x', deleted: true, changes: [], doc: { _id: 'x', _deleted: true } },
          { seq: '5-a', id: 'y', changes: [], doc: { _id: 'y', v: 2 } },
        ],
        last_seq: '5-a',
        pending: 0,
      }),
    );
  };
  const feed = couchdbSource(uri(), testAdapterOptions()).feed!;
  const controller = new AbortController();
  const chunks: SourceChunk[] = [];
  for await (const chunk of feed.changes({ collections: new Set(['users']), from: await feed.head(['users'], signal), signal: controller.signal })) {
    chunks.push(chunk);
    if (chunk.caughtUp) controller.abort();
  }
  expect(chunks.map(({ docs, deletes, position }) => ({ docs, deletes, position }))).toEqual([
    { docs: [{ _id: 'y', v: 2 }], deletes: undefined, position: { since: { users: '1-a' } } },
    { docs: [], deletes: ['x'], position: { since: { users: '5-a' } } },
  ]);
});
