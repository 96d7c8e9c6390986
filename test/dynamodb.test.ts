/**
 * The DynamoDB adapters against DynamoDB Local (started by the global setup): the shared
 * conformance suite, then what is particular to DynamoDB.
 */
import { BatchWriteItemCommand, CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, describe, expect, inject, test } from 'vitest';
import { ExactNumber } from '../src/formats/exact-number.js';
import dynamodbSink from '../src/sinks/dynamodb.js';
import dynamodbSource from '../src/sources/dynamodb.js';
import type { AdapterOptions, Doc, Sink, SourceChunk } from '../src/types.js';
import { describeConformance } from './conformance.js';
import { sortById, uniquePrefix } from './corpus.js';
import { testAdapterOptions } from './helpers.js';

const url = inject('dynamodbUrl');
const uri = { scheme: 'dynamodb', rest: url.replace(/^http:/, ''), raw: url.replace(/^http:/, 'dynamodb:') };
const sinkOf = (o: Partial<AdapterOptions> = {}) => dynamodbSink(uri, testAdapterOptions(o));
const sourceOf = (o: Partial<AdapterOptions> = {}) => dynamodbSource(uri, testAdapterOptions(o));

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
// DynamoDB Local keeps one database per access key and region: the ones the adapters use for a local endpoint.
const raw = new DynamoDBClient({ endpoint: url, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
afterAll(() => raw.destroy());

describeConformance('dynamodb', {
  sink: async (o) => sinkOf(o),
  source: async (o) => sourceOf(o),
  removes: true,
  refuses: [
    { doc: { _id: 'big', text: 'x'.repeat(410 * 1024) }, reason: /bytes; DynamoDB holds at most 409600/ },
    { doc: { _id: 'empty-key', m: { '': 1 } }, reason: /empty field name/ },
  ],
});

const signal = () => new AbortController().signal;

async function readDocs(collection: string, o: Partial<AdapterOptions> = {}): Promise<{ docs: Doc[]; chunks: SourceChunk[] }> {
  const source = await sourceOf(o);
  const chunks: SourceChunk[] = [];
  for await (const chunk of source.read({ collections: new Set([collection]), signal: signal() })) chunks.push(chunk);
  await source.close();
  return { docs: sortById(chunks.flatMap((c) => c.docs as Doc[])), chunks };
}

async function prepared(collection: string, o: Partial<AdapterOptions> = {}): Promise<Sink> {
  const sink = await sinkOf(o);
  await sink.prepare(collection);
  return sink;
}

describe('dynamodb sink', () => {
  test('refuses per document what DynamoDB cannot hold, with the reason', async () => {
    const sink = await sinkOf();
    const reasons = {
      big: sink.check!({ _id: 'big', text: 'x'.repeat(410 * 1024) }, 'c'),
      digits: sink.check!({ _id: 'digits', n: new ExactNumber('123456789012345678901234567890123456789') }, 'c'),
      tiny: sink.check!({ _id: 'tiny', n: new ExactNumber('1e-131') }, 'c'),
      huge: sink.check!({ _id: 'huge', n: 1e200 }, 'c'),
      emptyKey: sink.check!({ _id: 'k', m: { '': 1 } }, 'c'),
      numericId: sink.check!({ _id: 5 } as unknown as Doc, 'c'),
      emptyId: sink.check!({ _id: '' }, 'c'),
      deep: sink.check!({ _id: 'deep', v: JSON.parse('{"a":'.repeat(32) + '1' + '}'.repeat(32)) }, 'c'),
    };
    await sink.close(true);
    expect(reasons.big).toMatch(/bytes; DynamoDB holds at most 409600/);
    expect(reasons.digits).toMatch(/39 significant digits/);
    expect(reasons.tiny).toMatch(/outside DynamoDB's range/);
    expect(reasons.huge).toMatch(/outside DynamoDB's range/);
    expect(reasons.emptyKey).toMatch(/empty field name/);
    expect(reasons.numericId).toMatch(/_id must be a non-empty string/);
    expect(reasons.emptyId).toMatch(/_id must be a non-empty string/);
    expect(reasons.deep).toMatch(/nested deeper/);
    expect((await sinkOf()).check!({ _id: 'edge', a: new ExactNumber('1E-130'), b: new ExactNumber('-9.99E+125'), c: 'x'.repeat(400 * 1024 - 20) }, 'c')).toBeUndefined();
  });

  test('the size check agrees with DynamoDB at the 400 KB edge', async () => {
    const collection = `${uniquePrefix()}_edge`;
    const sink = await prepared(collection);
    // "_id" + "b" + "v" + value = 409600 bytes exactly: the largest item DynamoDB takes.
    const fits = { _id: 'b', v: 'x'.repeat(400 * 1024 - 5) };
    const over = { _id: 'c', v: 'x'.repeat(400 * 1024 - 4) };
    expect(sink.check!(fits, collection)).toBeUndefined();
    expect(sink.check!(over, collection)).toMatch(/409601 bytes/);
    expect(await sink.write(collection, [fits], signal())).toEqual([{ status: 'written' }]);
    await sink.close(true);
  });

  test('two documents with one _id in a batch: the last wins, none fails', async () => {
    const collection = `${uniquePrefix()}_dup`;
    const sink = await prepared(collection);
    const outcomes = await sink.write(collection, [{ _id: 'a', v: 1 }, { _id: 'b', v: 1 }, { _id: 'a', v: 2 }], signal());
    await sink.close(true);
    expect(outcomes).toEqual([{ status: 'written' }, { status: 'written' }, { status: 'written' }]);
    expect((await readDocs(collection)).docs).toEqual([{ _id: 'a', v: 2 }, { _id: 'b', v: 1 }]);
  });

  test('a refused item fails alone; the rest of its batch is written', async () => {
    const collection = `${uniquePrefix()}_refused`;
    const sink = await prepared(collection);
    // Not caught by check() on purpose (the pipeline calls check); DynamoDB refuses it.
    const docs: Doc[] = Array.from({ length: 10 }, (_, i) => ({ _id: `d${i}`, n: i }));
    docs[6] = { _id: 'd6', n: new ExactNumber('1e200') };
    const outcomes = await sink.write(collection, docs, signal());
    await sink.close(true);
    expect(outcomes.filter((o) => o.status === 'written')).toHaveLength(9);
    expect(outcomes[6]).toEqual({ status: 'failed', reason: expect.stringMatching(/refused the item: ValidationException: Number overflow/) });
    expect((await readDocs(collection)).docs).toHaveLength(9);
  });

  test('--on-conflict skip keeps what exists; fail reports the conflict', async () => {
    const collection = `${uniquePrefix()}_conflict`;
    const first = await prepared(collection);
    await first.write(collection, [{ _id: 'old', v: 'kept' }], signal());
    await first.close(true);

    const skip = await prepared(collection, { onConflict: 'skip' });
    const skipped = await skip.write(collection, [{ _id: 'old', v: 'new' }, { _id: 'fresh', v: 1 }, { _id: 'fresh', v: 2 }], signal());
    await skip.close(true);
    // Sequential semantics: the second 'fresh' finds the first one there.
    expect(skipped).toEqual([
      { status: 'skipped', reason: 'exists in target' },
      { status: 'written' },
      { status: 'skipped', reason: 'exists in target' },
    ]);

    const fail = await prepared(collection, { onConflict: 'fail' });
    const failed = await fail.write(collection, [{ _id: 'old', v: 'new' }, { _id: 'other' }], signal());
    await fail.close(true);
    expect(failed).toEqual([{ status: 'failed', reason: 'conflict: _id old exists in target' }, { status: 'written' }]);
    expect((await readDocs(collection)).docs).toEqual([{ _id: 'fresh', v: 1 }, { _id: 'old', v: 'kept' }, { _id: 'other' }]);
  });

  test('an existing table with another key gets a clear error, not a write', async () => {
    const table = `${uniquePrefix()}_wrongkey`;
    await raw.send(new CreateTableCommand({
      TableName: table,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'N' }],
    }));
    const sink = await sinkOf();
    await expect(sink.prepare(table)).rejects.toThrow(`table ${table} has key HASH id (N); gofannon-etl writes Gofannon's layout, a single string hash key _id`);
    await expect(sink.wouldCreate!(table)).rejects.toThrow(/single string hash key _id/);
    await sink.close(true);
  });

  test('creates tables with the prefix; names DynamoDB cannot take are a usage error', async () => {
    const prefix = `${uniquePrefix()}-`;
    const sink = await sinkOf({ tablePrefix: prefix });
    expect(await sink.wouldCreate!('agents')).toMatch(new RegExp(`table ${prefix}agents`));
    await sink.prepare('agents');
    expect(await sink.wouldCreate!('agents')).toBeUndefined();
    await expect(sink.prepare('bad name!')).rejects.toMatchObject({ kind: 'usage' });
    await sink.close(true);
    const source = await sourceOf({ tablePrefix: prefix });
    expect(await source.listCollections()).toEqual(['agents']);
    await source.close();
  });

  test('numbers are exact: big integers, decimals, range edges; nothing becomes a string', async () => {
    const collection = `${uniquePrefix()}_numbers`;
    const sink = await prepared(collection);
    const doc: Doc = {
      _id: 'n',
      big: new ExactNumber('9007199254740993'),
      neg: new ExactNumber('-9223372036854775808'),
      digits38: new ExactNumber('12345678901234567890123456789012345678'),
      precise: new ExactNumber('0.10000000000000000001'),
      float: 0.1,
      money: 12.34,
      int: 42,
      tiny: new ExactNumber('1E-130'),
      list: [1.5, new ExactNumber('18446744073709551615')],
    };
    expect(sink.check!(doc, collection)).toBeUndefined();
    expect(await sink.write(collection, [doc], signal())).toEqual([{ status: 'written' }]);
    await sink.close(true);
    const stored = await raw.send(new GetItemCommand({ TableName: collection, Key: { _id: { S: 'n' } } }));
    expect(stored.Item!.big).toEqual({ N: '9007199254740993' });
    expect(stored.Item!.float).toEqual({ N: '0.1' });
    const [back] = (await readDocs(collection)).docs;
    expect(back).toEqual({
      ...doc,
      // DynamoDB keeps the value and normalizes the text to plain decimal notation.
      tiny: new ExactNumber(`0.${'0'.repeat(129)}1`),
    });
  });

  test('binary reads back as base64, sets as lists', async () => {
    const collection = `${uniquePrefix()}_types`;
    const sink = await prepared(collection);
    await sink.close(true);
    await raw.send(new PutItemCommand({
      TableName: collection,
      Item: {
        _id: { S: 'b' },
        bin: { B: Buffer.from('héllo') },
        strings: { SS: ['x', 'y'] },
        numbers: { NS: ['1', '99999999999999999999'] },
        bins: { BS: [Buffer.from([0, 255])] },
      },
    }));
    const [doc] = (await readDocs(collection)).docs;
    expect(doc!.bin).toBe(Buffer.from('héllo').toString('base64'));
    expect([...(doc!.strings as string[])].sort()).toEqual(['x', 'y']);
    expect(doc!.numbers).toEqual(expect.arrayContaining([1, new ExactNumber('99999999999999999999')]));
    expect(doc!.bins).toEqual(['AP8=']);
  });
});

describe('dynamodb sink remove', () => {
  test('deletes by _id, more than one call\'s worth; absent ones count as removed', async () => {
    const collection = `${uniquePrefix()}_remove`;
    const sink = await prepared(collection);
    const docs = Array.from({ length: 60 }, (_, i) => ({ _id: `doc-${i}`, i }));
    for (let i = 0; i < docs.length; i += 25) await sink.write(collection, docs.slice(i, i + 25), signal());
    const ids = [...docs.slice(0, 40).map((d) => d._id), 'never-there', 'doc-3'];
    expect(await sink.remove!(collection, ids, signal())).toEqual(ids.map(() => ({ status: 'written' })));
    await sink.close(true);
    expect((await readDocs(collection)).docs).toEqual(sortById(docs.slice(40)));
    const gone = await raw.send(new GetItemCommand({ TableName: collection, Key: { _id: { S: 'doc-0' } } }));
    expect(gone.Item).toBeUndefined();
  });

  test('removes from the prefixed table, in order with writes of the same _id', async () => {
    const prefix = `${uniquePrefix()}-`;
    const sink = await sinkOf({ tablePrefix: prefix });
    await sink.prepare('agents');
    await sink.write('agents', [{ _id: 'a', v: 1 }, { _id: 'b', v: 1 }], signal());
    await sink.remove!('agents', ['a'], signal());
    await sink.write('agents', [{ _id: 'b', v: 2 }], signal());
    await sink.remove!('agents', ['b'], signal());
    await sink.write('agents', [{ _id: 'b', v: 3 }], signal());
    await sink.close(true);
    expect((await readDocs('agents', { tablePrefix: prefix })).docs).toEqual([{ _id: 'b', v: 3 }]);
  });
});

describe('dynamodb source', () => {
  test('parallel segments read every document once, resumable from any chunk', async () => {
    const collection = `${uniquePrefix()}_segments`;
    const sink = await prepared(collection);
    const docs = Array.from({ length: 300 }, (_, i) => ({ _id: `doc-${i}`, i }));
    for (let i = 0; i < docs.length; i += 25) await sink.write(collection, docs.slice(i, i + 25), signal());
    await sink.close(true);

    const { docs: all, chunks } = await readDocs(collection, { segments: 4, batchSize: 20 });
    expect(all).toEqual(sortById(docs));
    const pages = chunks.filter((c) => c.docs.length > 0);
    expect(pages.length).toBeGreaterThanOrEqual(15);
    expect(pages.every((c) => c.docs.length <= 20)).toBe(true);

    const cut = Math.floor(pages.length / 2);
    const before = pages.slice(0, cut).flatMap((c) => c.docs as Doc[]);
    const source = await sourceOf({ segments: 4, batchSize: 20 });
    const after: Doc[] = [];
    for await (const chunk of source.read({ collections: new Set([collection]), signal: signal(), resumeFrom: pages[cut - 1]!.position })) {
      after.push(...(chunk.docs as Doc[]));
    }
    await source.close();
    expect(new Set([...before, ...after].map((d) => d._id)).size).toBe(300);
    // Segment cursors are exact: nothing is read twice.
    expect(before.length + after.length).toBe(300);
  });

  test('counts from the table description; a chosen collection with no table is a warning', async () => {
    const collection = `${uniquePrefix()}_count`;
    const sink = await prepared(collection);
    await sink.write(collection, [{ _id: 'a' }, { _id: 'b' }], signal());
    await sink.close(true);
    const options = testAdapterOptions();
    const source = await dynamodbSource(uri, options);
    // DynamoDB Local keeps ItemCount exact (AWS refreshes it about every six hours).
    expect(await source.count!(collection)).toBe(2);
    expect(await source.count!(`${collection}_none`)).toBeUndefined();
    const chunks: SourceChunk[] = [];
    for await (const chunk of source.read({ collections: new Set([`${collection}_none`]), signal: signal() })) chunks.push(chunk);
    await source.close();
    expect(chunks).toEqual([]);
    expect(options.warnings.join('\n')).toMatch(/no table .*_none/);
  });

  test('reads items another tool wrote with BatchWriteItem', async () => {
    const collection = `${uniquePrefix()}_raw`;
    const sink = await prepared(collection);
    await sink.close(true);
    await raw.send(new BatchWriteItemCommand({ RequestItems: { [collection]: [{ PutRequest: { Item: { _id: { S: 'r' }, n: { N: '1' } } } }] } }));
    expect((await readDocs(collection)).docs).toEqual([{ _id: 'r', n: 1 }]);
  });
});
