/**
 * The library on Node streams: `pipeline(readDocuments(from), new Transform(...), writeDocuments(to))`
 * across memory, export files, CouchDB (pouchdb-server) and DynamoDB Local; backpressure both ways,
 * counted (how far the source gets ahead of a slow consumer and of a slow target); errors in the
 * middle, in the target and in the records; refused documents; byte streams in and out.
 */
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gzipSync } from 'node:zlib';
import { describe, expect, inject, test } from 'vitest';
import { EtlError } from '../src/errors.js';
import { ExactNumber } from '../src/formats/exact-number.js';
import { parseJson } from '../src/formats/parse.js';
import { stringifyExact } from '../src/formats/serialize.js';
import { fileSink, fileSource } from '../src/library/file-streams.js';
import { readDocuments } from '../src/library/read-documents.js';
import { writeDocuments } from '../src/library/write-documents.js';
import { migrate } from '../src/pipeline.js';
import { openSink, openSource } from '../src/registry.js';
import { memoryStore } from '../src/stores/memory/store.js';
import type { Doc, DocumentRecord, FailedDocument } from '../src/types.js';
import { corpusWithoutBigIntegers, sortById, uniquePrefix } from './corpus.js';
import { localDynamoEnv, testAdapterOptions } from './helpers.js';
import { countedSource, heldSink, slowStage, turns, until } from './stream-helpers.js';

const couchUri = inject('couchdbAuthUrl').replace(/^http:/, 'couchdb:');
const dynamoUri = inject('dynamodbUrl').replace(/^http:/, 'dynamodb:');
const dir = mkdtempSync(join(tmpdir(), 'streams-'));
const quiet = { env: localDynamoEnv, warn: () => {} };
/** Node's default buffer, in records, of an object-mode stream. */
const H = 16;

const generated = (n: number): Doc[] => Array.from({ length: n }, (_, i) => ({ _id: `d${String(i).padStart(5, '0')}`, n: i, pad: 'x'.repeat(100) }));

function seedMemory(data: Record<string, Doc[]>): string {
  const name = uniquePrefix();
  for (const [collection, docs] of Object.entries(data)) memoryStore(name).set(collection, new Map(docs.map((d) => [d._id as string, d])));
  return `memory:${name}`;
}

function readMemory(uri: string): Record<string, Doc[]> {
  const store = memoryStore(uri.slice('memory:'.length));
  return Object.fromEntries([...store].map(([collection, docs]) => [collection, sortById([...docs.values()])]));
}

/** Waits for 'close', whatever came before it (a broken-off iteration destroys the stream with an AbortError). */
const closed = (stream: Readable | Writable) => new Promise<void>((resolve) => (stream.closed ? resolve() : stream.on('close', () => resolve())));

describe('pipeline(readDocuments, Transform, writeDocuments) across stores', () => {
  test('memory → file → CouchDB → DynamoDB → memory: every document arrives, and the source is never far ahead', async () => {
    const p = uniquePrefix();
    const original: Record<string, Doc[]> = { [`${p}_many`]: generated(600) };
    for (const [c, docs] of Object.entries(corpusWithoutBigIntegers())) original[`${p}_${c}`] = docs;
    const collections = Object.keys(original);
    const total = Object.values(original).reduce((n, docs) => n + docs.length, 0);
    const file = join(dir, `${p}.json.gz`);
    const end = `memory:${p}-end`;
    const hops: [string, string, string][] = [
      ['memory', seedMemory(original), `file:${file}`],
      ['file', `file:${file}`, couchUri],
      ['couchdb', couchUri, dynamoUri],
      ['dynamodb', dynamoUri, end],
    ];
    // What may sit between the source and a slow stage: the chunk being read (20), the batch the
    // reader's run is pushing, the reader's buffer and the stage's input buffer (16 each), one in hand.
    const readBound = 20 + 3 * H + 1;
    // And the target: the stage's output buffer, the writer's buffer, the delivery its run holds
    // (16 each), the batch being filled and the batches in flight (10 each, 2 in flight).
    const writeBound = readBound + 3 * H + 10 * 3;

    for (const [name, from, to] of hops) {
      const lead = { read: 0, write: 0 };
      const target = heldSink(await openSink(to, testAdapterOptions({ batchSize: 10, concurrency: 2 })));
      target.releaseAll(); // a real store's own pace
      const { stage, state: staged } = slowStage(3, ({ collection, doc }) => ({ collection, doc: { ...doc, hops: [...((doc.hops as string[]) ?? []), name] } }));
      const { source, state } = countedSource(await openSource(from, testAdapterOptions({ batchSize: 20 })), () => {
        lead.read = Math.max(lead.read, state.pulled - staged.consumed);
        lead.write = Math.max(lead.write, state.pulled - target.state.answered);
      });
      const writer = writeDocuments(target.sink, quiet);
      await pipeline(readDocuments(source, { collections, ...quiet }), stage, writer);
      const report = await writer.report;
      expect(report.ok, name).toBe(true);
      expect(report.total, name).toMatchObject({ read: total, written: total, failed: 0 });
      expect(state).toMatchObject({ pulled: total, finished: true, closed: true });
      expect(lead.read, `${name}: documents read ahead of the slow stage`).toBeLessThanOrEqual(readBound);
      expect(lead.write, `${name}: documents read ahead of the target`).toBeLessThanOrEqual(writeBound);
    }

    const arrived = readMemory(end);
    expect(Object.keys(arrived).sort()).toEqual([...collections].sort());
    for (const c of collections) {
      expect(arrived[c], c).toEqual(sortById(original[c]!).map((doc) => ({ ...doc, hops: ['memory', 'file', 'couchdb', 'dynamodb'] })));
    }
  });

  test('any stream of records goes in (Readable.from a generator), and any Writable takes them out', async () => {
    const to = `memory:${uniquePrefix()}`;
    async function* records(): AsyncGenerator<DocumentRecord> {
      for (let i = 0; i < 50; i++) yield { collection: i % 2 ? 'odd' : 'even', doc: { _id: `r${i}`, big: new ExactNumber('9007199254740993') } };
    }
    const writer = writeDocuments(to);
    await pipeline(Readable.from(records()), writer);
    expect((await writer.report).collections).toMatchObject({ odd: { written: 25 }, even: { written: 25 } });
    const onlyOdd = writeDocuments(`memory:${uniquePrefix()}`, { collections: ['odd'] });
    await pipeline(Readable.from(records()), onlyOdd);
    expect((await onlyOdd.report).collections).toEqual({ odd: { read: 25, written: 25, skipped: 0, dropped: 0, failed: 0, deleted: 0 } });

    const out: DocumentRecord[] = [];
    await pipeline(readDocuments(to), new Writable({ objectMode: true, write: (record: DocumentRecord, _e, done) => void (out.push(record), done()) }));
    expect(out).toHaveLength(50);
    expect(stringifyExact(out.find((r) => r.doc._id === 'r7'))).toBe('{"collection":"odd","doc":{"_id":"r7","big":9007199254740993}}');
  });

  test('readDocuments takes the selection and transforms of migrate, and is async-iterable', async () => {
    const from = seedMemory({ agents: [{ _id: 'a', _rev: '1-x', v: 1 }], users: [{ _id: 'u', v: 2 }, { _id: 'test', v: 3 }] });
    const seen: DocumentRecord[] = [];
    const dropTest = (doc: Doc) => (doc._id === 'test' ? null : doc);
    for await (const record of readDocuments(from, { collections: ['users', 'agents'], transforms: [dropTest] })) seen.push(record);
    expect(seen).toEqual([
      { collection: 'agents', doc: { _id: 'a', v: 1 } },
      { collection: 'users', doc: { _id: 'u', v: 2 } },
    ]);
  });
});

describe('backpressure, driven by gates', () => {
  /** 2000 documents in chunks of 20, counted as they are pulled. */
  async function countedMemory() {
    const from = seedMemory({ agents: generated(2000) });
    return countedSource(await openSource(from, testAdapterOptions({ batchSize: 20 })));
  }

  /** A consumer that takes the first record and then holds it until `go()`. */
  function heldConsumer() {
    let go!: () => void;
    const gate = new Promise<void>((resolve) => (go = resolve));
    const state = { consumed: 0 };
    const consumer = new Writable({
      objectMode: true,
      write(_record, _encoding, done) {
        state.consumed++;
        if (state.consumed === 1) gate.then(() => done());
        else done();
      },
    });
    return { consumer, state, go };
  }

  test('a reader that stops reading stops the source: reading waits while the consumer is slow', async () => {
    const { source, state } = await countedMemory();
    const reader = readDocuments(source);
    const held = heldConsumer();
    const done = pipeline(reader, held.consumer);
    await until(() => reader.readableLength >= reader.readableHighWaterMark, "the reader's buffer is full");
    const pulled = state.pulled;
    await turns(50);
    expect(state.pulled, 'the source stays where it stopped').toBe(pulled);
    // The consumer's buffer and the reader's are full; at most a chunk and one batch more were read.
    expect(pulled).toBeGreaterThanOrEqual(2 * H);
    expect(pulled).toBeLessThanOrEqual(20 + 3 * H + 1);
    held.go();
    await done;
    expect(held.state.consumed).toBe(2000);
    expect(state).toMatchObject({ finished: true, closed: true });
  });

  test('control: with a buffer as large as the source, the same probe sees it read to its end', async () => {
    const { source, state } = await countedMemory();
    const held = heldConsumer();
    const done = pipeline(readDocuments(source, { highWaterMark: 1_000_000 }), held.consumer);
    await until(() => state.finished, 'the source is read to its end');
    expect(state.pulled - held.state.consumed).toBeGreaterThan(1900);
    held.go();
    await done;
  });

  test('a target whose batches do not finish makes write() answer false, and the source stops', async () => {
    let lead = 0;
    const from = seedMemory({ agents: generated(2000) });
    const { source, state } = countedSource(await openSource(from, testAdapterOptions({ batchSize: 20 })), () => {
      lead = Math.max(lead, state.pulled - target.state.answered);
    });
    const target = heldSink(await openSink(`memory:${uniquePrefix()}`, testAdapterOptions({ batchSize: 10 })), { concurrency: 2 });
    const writer = writeDocuments(target.sink);
    const reader = readDocuments(source);
    const done = pipeline(reader, writer);
    const stalled = () => target.state.inFlight === 2 && writer.writableNeedDrain && reader.readableLength >= reader.readableHighWaterMark;
    // In flight 2 × 10, the delivery the run holds and the writer's buffer, the reader's buffer and
    // the batch its run pushes (16 each), the chunk being read (20).
    const bound = 2 * 10 + 4 * H + 20;

    await until(stalled, "both slots busy, write() answering false, the reader's buffer full");
    const pulled = state.pulled;
    await turns(50);
    expect(state.pulled, 'the source stays where it stopped').toBe(pulled);
    expect(target.state.answered).toBe(0);
    expect(pulled).toBeLessThanOrEqual(bound);
    for (let round = 0; round < 5; round++) {
      const answered = target.state.answered;
      target.release(); // one batch answered: room for about one more
      await until(() => target.state.answered > answered && stalled(), 'stalled again after one batch');
      expect(state.pulled - target.state.answered).toBeLessThanOrEqual(bound);
    }
    target.releaseAll();
    await done;
    expect((await writer.report).total).toMatchObject({ read: 2000, written: 2000, failed: 0 });
    expect(lead, 'documents read ahead of the target, at any pull').toBeLessThanOrEqual(bound);
    expect(state.closed).toBe(true);
  });

  test('control: with a writer buffer as large as the source, the same probe sees it read to its end', async () => {
    const { source, state } = await countedMemory();
    const target = heldSink(await openSink(`memory:${uniquePrefix()}`, testAdapterOptions({ batchSize: 10 })), { concurrency: 2 });
    const writer = writeDocuments(target.sink, { highWaterMark: 1_000_000 });
    const done = pipeline(readDocuments(source), writer);
    await until(() => state.finished, 'the source is read to its end');
    expect(target.state.answered).toBe(0);
    target.releaseAll();
    await done;
  });
});

describe('errors', () => {
  async function bigFile(n: number): Promise<string> {
    const path = join(dir, `${uniquePrefix()}.json`);
    writeFileSync(path, stringifyExact({ data: { agents: generated(n) } }, 2));
    return path;
  }

  test('an error in the middle stage ends the run: the source is closed and no file that looks whole is left', async () => {
    const input = await bigFile(3000);
    const out = join(mkdtempSync(join(tmpdir(), 'streams-out-')), 'out.json');
    const { source, state } = countedSource(await openSource(`file:${input}`, testAdapterOptions({ batchSize: 50 })));
    let seen = 0;
    const breaking = new Transform({
      objectMode: true,
      transform: (record: DocumentRecord, _e, done) => (++seen === 1500 ? done(new Error('the transform broke')) : done(null, record)),
    });
    const reader = readDocuments(source);
    const writer = writeDocuments(`file:${out}`, { batchSize: 100 });
    await expect(pipeline(reader, breaking, writer)).rejects.toThrow('the transform broke');
    expect(existsSync(out)).toBe(false);

    const report = await writer.report; // settles once the target is closed
    expect(report).toMatchObject({ ok: false, interrupted: true });
    expect(report.total.written).toBeGreaterThan(0);
    expect(readdirSync(join(out, '..'))).toEqual([]);
    await closed(reader);
    expect(state.closed).toBe(true);
    expect(state.pulled).toBeLessThan(3000);
  });

  test('a target that cannot be reached destroys the writer with the fatal EtlError, as report rejects', async () => {
    const writer = writeDocuments('couchdb://127.0.0.1:9', { retries: 0, ...quiet });
    const failure = pipeline(readDocuments(seedMemory({ agents: generated(10) })), writer);
    await expect(failure).rejects.toBeInstanceOf(EtlError);
    await expect(failure).rejects.toMatchObject({ kind: 'fatal' });
    await expect(writer.report).rejects.toMatchObject({ kind: 'fatal' });
  });

  test('a fatal error while writing a file target (a collection written twice) leaves no file', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'streams-out-')), 'out.json');
    const records = [{ collection: 'a', doc: { _id: '1' } }, { collection: 'b', doc: { _id: '2' } }, { collection: 'a', doc: { _id: '3' } }];
    await expect(pipeline(Readable.from(records), writeDocuments(`file:${out}`))).rejects.toMatchObject({ kind: 'fatal', code: 'file-collection-order' });
    await until(() => readdirSync(join(out, '..')).length === 0, 'the temporary file removed');
  });

  test('a record that is not { collection, doc } is a usage error naming it; nothing is written', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'streams-out-')), 'out.json');
    const writer = writeDocuments(`file:${out}`);
    const records = [{ collection: 'a', doc: { _id: '1' } }, { doc: { _id: '2' } }];
    await expect(pipeline(Readable.from(records), writer)).rejects.toMatchObject({ kind: 'usage', code: 'bad-record', message: 'writeDocuments: record 2 has no collection: write { collection, doc } objects' });
    await writer.report;
    expect(readdirSync(join(out, '..'))).toEqual([]);
  });

  test('the source cannot be read: readDocuments is destroyed with the EtlError (one line, byte and line)', async () => {
    const path = join(dir, `${uniquePrefix()}.json`);
    writeFileSync(path, '{"data": {"agents": [{"_id": "a"}, {"_id": ');
    const failure = pipeline(readDocuments(`file:${path}`), new Writable({ objectMode: true, write: (_r, _e, done) => done() }));
    await expect(failure).rejects.toMatchObject({ kind: 'fatal', code: 'malformed-input' });
    await expect(failure).rejects.toThrow(/at byte \d+ \(line 1\) in collection "agents"/);
  });

  test('closing the reader early (break) closes the source', async () => {
    const { source, state } = countedSource(await openSource(seedMemory({ agents: generated(500) }), testAdapterOptions({ batchSize: 20 })));
    const reader = readDocuments(source);
    let n = 0;
    for await (const _record of reader) if (++n === 30) break;
    await closed(reader);
    expect(state).toMatchObject({ closed: true, finished: false });
    expect(state.pulled).toBeLessThan(500);
  });

  test('a signal aborts either stream as any Node stream: AbortError, the source closed, no file kept', async () => {
    const { source, state } = countedSource(await openSource(seedMemory({ agents: generated(500) }), testAdapterOptions({ batchSize: 20 })));
    const stop = new AbortController();
    const out = join(mkdtempSync(join(tmpdir(), 'streams-out-')), 'out.json');
    const writer = writeDocuments(`file:${out}`, { signal: stop.signal });
    const stopping = new Transform({ objectMode: true, transform: (record, _e, done) => (record.doc._id === 'd00100' && stop.abort(), done(null, record)) });
    await expect(pipeline(readDocuments(source), stopping, writer)).rejects.toMatchObject({ name: 'AbortError' });
    expect((await writer.report).interrupted).toBe(true);
    expect(readdirSync(join(out, '..'))).toEqual([]);
    await until(() => state.closed, 'the source closed');

    const reader = readDocuments(seedMemory({ agents: generated(10) }), { signal: AbortSignal.abort() });
    await expect(pipeline(reader, new PassThrough({ objectMode: true }))).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('documents refused: never lost', () => {
  test('DynamoDB refuses a document over 400 KB and one without _id: dead-letter file and failed events, the rest written', async () => {
    const p = uniquePrefix();
    const deadLetter = join(dir, `${p}-dead.ndjson`);
    const failed: FailedDocument[] = [];
    const writer = writeDocuments(dynamoUri, { deadLetter, ...quiet });
    writer.on('failed', (f) => failed.push(f));
    const records = [
      { collection: `${p}_agents`, doc: { _id: 'ok', v: 1 } },
      { collection: `${p}_agents`, doc: { _id: 'huge', blob: 'x'.repeat(500_000) } },
      { collection: `${p}_agents`, doc: { name: 'no id' } },
    ];
    await pipeline(Readable.from(records), writer);
    const report = await writer.report;
    expect(report).toMatchObject({ ok: false, total: { read: 3, written: 1, failed: 2 }, deadLetters: { count: 2, path: deadLetter } });
    expect(failed.map((f) => [f.collection, f._id, f.where])).toEqual([
      [`${p}_agents`, 'huge', 'record 2'],
      [`${p}_agents`, undefined, 'record 3'],
    ]);
    expect(failed[0]!.reason).toMatch(/400 KB/);
    expect(failed[1]!.reason).toBe('document has no _id');
    const lines = readFileSync(deadLetter, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as FailedDocument);
    expect(lines.map((l) => l.reason)).toEqual(failed.map((f) => f.reason));
    expect(lines[0]!.doc).toMatchObject({ _id: 'huge' });
  });

  test('CouchDB answers a conflict per document: the refused one is a failed event, the stream finishes', async () => {
    const db = `${uniquePrefix()}_users`;
    await migrate({ from: seedMemory({ [db]: [{ _id: 'taken', v: 0 }] }), to: couchUri, ...quiet });
    const failed: FailedDocument[] = [];
    const writer = writeDocuments(couchUri, { onConflict: 'fail', ...quiet });
    writer.on('failed', (f) => failed.push(f));
    await pipeline(Readable.from([{ collection: db, doc: { _id: 'new', v: 1 } }, { collection: db, doc: { _id: 'taken', v: 2 } }]), writer);
    expect((await writer.report).total).toMatchObject({ written: 1, failed: 1 });
    expect(failed).toEqual([expect.objectContaining({ collection: db, _id: 'taken', reason: expect.stringMatching(/conflict/) })]);
  });

  test('readDocuments: a document a transform refuses is a failed event and a dead letter; the others flow', async () => {
    const deadLetter = join(dir, `${uniquePrefix()}-dead.ndjson`);
    const picky = (doc: Doc) => {
      if (doc._id === 'd00003') throw new Error('not this one');
      return doc;
    };
    const reader = readDocuments(seedMemory({ agents: generated(5) }), { transforms: [picky], deadLetter, ...quiet });
    const failed: FailedDocument[] = [];
    reader.on('failed', (f) => failed.push(f));
    const ids: string[] = [];
    for await (const { doc } of reader) ids.push(doc._id as string);
    expect(ids).toEqual(['d00000', 'd00001', 'd00002', 'd00004']);
    expect(failed).toEqual([expect.objectContaining({ collection: 'agents', _id: 'd00003', reason: 'transform picky failed: not this one' })]);
    expect(readFileSync(deadLetter, 'utf8')).toContain('"reason":"transform picky failed: not this one"');
  });

  test('with neither a dead-letter file nor a listener, the reasons are still said (warn)', async () => {
    const warnings: string[] = [];
    const writer = writeDocuments(`memory:${uniquePrefix()}`, { warn: (m) => warnings.push(m) });
    await pipeline(Readable.from([{ collection: 'a', doc: { _id: 7 } }]), writer);
    expect(warnings).toEqual(['failed: a _id 7 (record 1): _id must be a string, not a number']);
  });
});

describe('byte streams: fileSource and fileSink', () => {
  test('an HTTP service: an export posted in, NDJSON answered, through readDocuments and writeDocuments', async () => {
    const server = createServer((request, response) => {
      const upper = new Transform({ objectMode: true, transform: ({ collection, doc }: DocumentRecord, _e, done) => done(null, { collection, doc: { ...doc, name: String(doc.name).toUpperCase() } }) });
      pipeline(readDocuments(fileSource(request, { name: 'request body' })), upper, writeDocuments(fileSink(response, { format: 'ndjson' }))).catch(() => {});
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const body = gzipSync(Buffer.from(stringifyExact({ data: { agents: [{ _id: 'a', name: 'ada', credits: new ExactNumber('9007199254740993') }], empty: [] } }, 2)));
      const answer = await fetch(url, { method: 'POST', body });
      const lines = (await answer.text()).trim().split('\n');
      expect(lines[0]).toBe('{"collection":"agents"}');
      expect(lines[1]).toBe('{"collection":"agents","doc":{"_id":"a","name":"ADA","credits":9007199254740993}}');
      // The writer knows its records came from a stream, not from which store.
      expect(parseJson(lines[2]!)).toMatchObject({ metadata: { provider: 'stream', collections: ['agents'] } });

      // A body cut short: the answer is cut too, never an export that looks whole.
      const cut = Buffer.from('{"data": {"agents": [{"_id": "a", "name": "x"}, {"_id": "b", "na');
      await expect(fetch(url, { method: 'POST', body: cut }).then((r) => r.text())).rejects.toThrow();
    } finally {
      server.close();
    }
  });

  test("another tool's backup from a stream (a couchbackup file, sniffed), named with collectionName", async () => {
    const couchbackup = '{"name":"@cloudant/couchbackup","version":"2.11.12","mode":"shallow"}\n[{"_id":"a","_rev":"1-x","v":1},{"_id":"b","_rev":"2-y","v":2}]\n';
    const seen: DocumentRecord[] = [];
    for await (const record of readDocuments(fileSource(Readable.from([Buffer.from(couchbackup)]), { collectionName: 'agents' }))) seen.push(record);
    expect(seen).toEqual([
      { collection: 'agents', doc: { _id: 'a', v: 1 } },
      { collection: 'agents', doc: { _id: 'b', v: 2 } },
    ]);
  });

  test('migrate takes them as from and to; the format is forced or sniffed; a failed run destroys the target stream', async () => {
    const ndjson = '{"collection":"users"}\n{"collection":"users","doc":{"_id":"u","n":0.10000000000000000001}}\n';
    const out = new PassThrough();
    const parts: Buffer[] = [];
    out.on('data', (b: Buffer) => parts.push(b));
    const report = await migrate({ from: fileSource(Readable.from([Buffer.from(ndjson)]), { format: 'ndjson' }), to: fileSink(out) });
    expect(report.total.written).toBe(1);
    expect(Buffer.concat(parts).toString()).toContain('"n": 0.10000000000000000001');
    expect(out.writableFinished).toBe(true);

    const broken = new PassThrough();
    broken.on('data', () => {});
    const input = Readable.from([Buffer.from('{"data": {"users": [{"_id": "u"}, {"_id": ')]);
    const failure = migrate({ from: fileSource(input, { name: 'upload.json' }), to: fileSink(broken) });
    await expect(failure).rejects.toThrow(/^upload\.json: .* at byte \d+ in collection "users"$/);
    expect(broken.destroyed).toBe(true);
    expect(broken.writableFinished).toBe(false);
    expect(input.destroyed).toBe(true);
  });
});
