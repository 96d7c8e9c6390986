/**
 * How a table's stream is read shard by shard, through a fake Streams client: what DynamoDB Local
 * cannot be made to do on demand (split a shard, expire an iterator, trim, throttle).
 */
import type { _Record as StreamRecord } from '@aws-sdk/client-dynamodb-streams';
import { describe, expect, test } from 'vitest';
import type { StreamsApi } from '../src/stores/dynamodb/client.js';
import type { TableCursor } from '../src/stores/dynamodb/stream-position.js';
import { TableStream, type ShardRun } from '../src/stores/dynamodb/stream-shards.js';
import { recordRuns } from '../src/stores/dynamodb/stream-records.js';
import { HeadKeeper } from '../src/stores/dynamodb/head-keeper.js';
import { ExactNumber } from '../src/formats/exact-number.js';

interface FakeShard {
  id: string;
  parent?: string;
  closed: boolean;
  /** Item ids; `-x` is a REMOVE of x. */
  records: string[];
}

const serviceError = (name: string) => Object.assign(new Error(`${name} happened`), { name, $metadata: { httpStatusCode: 400 } });

function record(shard: string, index: number, change: string): StreamRecord {
  const sequence = `${shard}-${String(index).padStart(21, '0')}`;
  const id = change.replace(/^-/, '');
  return change.startsWith('-')
    ? { eventName: 'REMOVE', dynamodb: { SequenceNumber: sequence, Keys: { _id: { S: id } } } }
    : { eventName: 'INSERT', dynamodb: { SequenceNumber: sequence, Keys: { _id: { S: id } }, NewImage: { _id: { S: id }, n: { N: '12345678901234567890' } } } };
}

/** Iterators are `shard|next index`; sequence numbers `shard-index`. `faults` are thrown, in turn, by the named call. */
function fakeStreams(shards: FakeShard[], faults: Partial<Record<'getRecords' | 'getShardIterator', Error[]>> = {}) {
  const calls: string[] = [];
  const fault = (call: 'getRecords' | 'getShardIterator') => {
    const next = faults[call]?.shift();
    if (next) throw next;
  };
  const api: StreamsApi = {
    describeStream: async () => ({
      StreamDescription: {
        StreamStatus: 'ENABLED',
        Shards: shards.map((s) => ({ ShardId: s.id, ParentShardId: s.parent, SequenceNumberRange: { StartingSequenceNumber: '1', ...(s.closed ? { EndingSequenceNumber: '9' } : {}) } })),
      },
    }),
    getShardIterator: async ({ ShardId, ShardIteratorType, SequenceNumber }) => {
      calls.push(`iterator ${ShardId} ${ShardIteratorType}${SequenceNumber ? ` ${SequenceNumber}` : ''}`);
      fault('getShardIterator');
      const from = ShardIteratorType === 'TRIM_HORIZON' ? 0 : Number(SequenceNumber!.split('-').at(-1)) + (ShardIteratorType === 'AT_SEQUENCE_NUMBER' ? 0 : 1);
      return { ShardIterator: `${ShardId}|${from}` };
    },
    getRecords: async ({ ShardIterator, Limit }) => {
      calls.push(`records ${ShardIterator}${Limit === 1 ? ' limit 1' : ''}`);
      fault('getRecords');
      const [id, from] = ShardIterator!.split('|');
      const shard = shards.find((s) => s.id === id)!;
      const records = shard.records.slice(Number(from), Number(from) + (Limit ?? 1000)).map((change, i) => record(shard.id, Number(from) + i, change));
      const end = Number(from) + records.length;
      return { Records: records, NextShardIterator: shard.closed && end === shard.records.length ? undefined : `${id}|${end}` };
    },
  };
  return { api, calls };
}

function tableStream(streams: StreamsApi, cursor: TableCursor, warnings: string[] = [], retries = 2, keeper?: HeadKeeper) {
  const signal = new AbortController().signal;
  const context = { streams, where: 'local', policy: { retries, minDelayMs: 1, maxDelayMs: 2, signal }, warn: (m: string) => warnings.push(m), resolveHead: keeper && ((it: string) => keeper.resolve(it)) };
  return new TableStream(context, 't', cursor, 'dynamodb://local');
}

async function poll(stream: TableStream): Promise<string[]> {
  const seen: string[] = [];
  for await (const run of stream.poll()) seen.push(...describeRun(run));
  return seen;
}

const describeRun = (run: ShardRun) => [...run.docs.map((d) => `${run.shard} put ${(d as { _id: string })._id}`), ...(run.deletes ?? []).map((id) => `${run.shard} delete ${id}`)];

describe('a table stream read shard by shard', () => {
  test('a child shard waits until its parent is read to its end; one item keeps its order', async () => {
    const shards: FakeShard[] = [
      { id: 'child', parent: 'parent', closed: false, records: ['x', '-x'] },
      { id: 'parent', closed: true, records: ['x', 'y'] },
    ];
    const { api } = fakeStreams(shards);
    const cursor: TableCursor = { stream: 'arn', shards: { parent: { after: 'parent-000000000000000000000' } } };
    const stream = tableStream(api, cursor);
    // The parent's rest first (its first record was applied before); the child only after.
    expect(await poll(stream)).toEqual(['parent put y']);
    expect(cursor.shards.parent).toEqual({ done: true });
    // The child's page holds x put then deleted: its last change is what comes.
    expect(await poll(stream)).toEqual(['child delete x']);
    expect(cursor.shards.child).toEqual({ after: 'child-000000000000000000001' });
    expect(await poll(stream)).toEqual([]);
  });

  test('a page: each _id\'s last change, puts then deletes; the cursor past the page once both are handed on', async () => {
    const { api } = fakeStreams([{ id: 's', closed: false, records: ['a', 'b', '-a', 'c', '-d', 'b'] }]);
    const cursor: TableCursor = { stream: 'arn', shards: {} };
    const positions: unknown[] = [];
    for await (const run of tableStream(api, cursor).poll()) positions.push([describeRun(run), structuredClone(cursor.shards.s)]);
    expect(positions).toEqual([
      // Until the deletes are applied too, a restart reads the whole page again.
      [['s put c', 's put b'], undefined],
      [['s delete a', 's delete d'], { after: 's-000000000000000000005' }],
    ]);
  });

  test('an expired head iterator reads the shard from its start, with a line; a held one is got again from the cursor', async () => {
    const { api, calls } = fakeStreams([{ id: 's', closed: false, records: ['old', 'new'] }], { getRecords: [serviceError('ExpiredIteratorException')] });
    const warnings: string[] = [];
    const cursor: TableCursor = { stream: 'arn', shards: { s: { latest: 's|1', takenAt: 0 } } };
    const stream = tableStream(api, cursor, warnings);
    expect(await poll(stream)).toEqual([]);
    expect(warnings).toEqual([expect.stringMatching(/the stream position taken before the snapshot can no longer be used .* reading shard s from its start/)]);
    expect(await poll(stream)).toEqual(['s put old', 's put new']);
    expect(calls).toEqual(['records s|1', 'iterator s TRIM_HORIZON', 'records s|0']);
  });

  test('a kept head iterator is pinned at the first record after the head: no fallback, nothing again, nothing lost', async () => {
    // Records 0 and 1 came before the head; the head's LATEST iterator is at index 2.
    const shards: FakeShard[] = [{ id: 's', closed: false, records: ['before', 'before2'] }];
    const { api, calls } = fakeStreams(shards);
    const keeper = new HeadKeeper(async () => api);
    keeper.keep('s|2');
    await keeper.refresh();
    expect(await keeper.resolve('s|2')).toEqual({ iterator: 's|2' });
    shards[0]!.records.push('during', '-during', 'late');
    await keeper.refresh();
    await keeper.refresh();
    keeper.stop();
    expect(await keeper.resolve('s|2')).toEqual({ at: 's-000000000000000000002' });
    // The head's own iterator would have expired by now: it is never used.
    const warnings: string[] = [];
    const stream = tableStream(api, { stream: 'arn', shards: { s: { latest: 's|2', takenAt: 0 } } }, warnings, 2, keeper);
    expect(await poll(stream)).toEqual(['s put late', 's delete during']);
    expect(warnings).toEqual([]);
    expect(calls).toEqual(['records s|2 limit 1', 'records s|2 limit 1', 'iterator s AT_SEQUENCE_NUMBER s-000000000000000000002', 'records s|2']);
    expect(await keeper.resolve('other')).toBeUndefined();
  });

  test('refused as trimmed before anything of the shard was applied: read again from its start, once', async () => {
    const { api, calls } = fakeStreams([{ id: 's', closed: false, records: ['a', 'b'] }], { getRecords: [serviceError('TrimmedDataAccessException')] });
    const cursor: TableCursor = { stream: 'arn', shards: { s: { latest: 's|1', takenAt: Date.now() } } };
    const stream = tableStream(api, cursor);
    expect(await poll(stream)).toEqual([]);
    expect(await poll(stream)).toEqual(['s put a', 's put b']);
    expect(calls).toEqual(['records s|1', 'iterator s TRIM_HORIZON', 'records s|0']);

    // A second refusal of the same shard is a real trim: the follow ends.
    const twice = fakeStreams([{ id: 's', closed: false, records: ['a'] }], { getRecords: [serviceError('TrimmedDataAccessException'), serviceError('TrimmedDataAccessException')] });
    const again = tableStream(twice.api, { stream: 'arn', shards: {} });
    expect(await poll(again)).toEqual([]);
    await expect(poll(again)).rejects.toMatchObject({ code: 'changes-lost' });
    // Once changes of the shard were applied, a refusal is never taken for DynamoDB Local's.
    const applied = fakeStreams([{ id: 's', closed: false, records: ['a'] }], { getRecords: [serviceError('TrimmedDataAccessException')] });
    await expect(poll(tableStream(applied.api, { stream: 'arn', shards: { s: { after: 's-000000000000000000000' } } }))).rejects.toMatchObject({ code: 'changes-lost' });
  });

  test('every page of DescribeStream is read; a closed shard listed only on the second page is read first, as a parent', async () => {
    const { api } = fakeStreams([
      { id: 'child', parent: 'parent', closed: false, records: ['x'] },
      { id: 'parent', closed: true, records: ['-x'] },
    ]);
    const full = api.describeStream;
    // One shard a page, as DynamoDB pages a long shard list.
    api.describeStream = async (input) => {
      const { StreamDescription } = await full(input);
      const shards = StreamDescription!.Shards!;
      const at = input.ExclusiveStartShardId ? shards.findIndex((s) => s.ShardId === input.ExclusiveStartShardId) + 1 : 0;
      return { StreamDescription: { ...StreamDescription, Shards: [shards[at]!], LastEvaluatedShardId: at + 1 < shards.length ? shards[at]!.ShardId : undefined } };
    };
    const stream = tableStream(api, { stream: 'arn', shards: {} });
    expect([...(await poll(stream)), ...(await poll(stream))]).toEqual(['parent delete x', 'child put x']);
  });

  test('throttled GetRecords is retried under the budget', async () => {
    const { api, calls } = fakeStreams([{ id: 's', closed: false, records: ['a'] }], { getRecords: [serviceError('LimitExceededException'), serviceError('LimitExceededException')] });
    expect(await poll(tableStream(api, { stream: 'arn', shards: {} }))).toEqual(['s put a']);
    expect(calls.filter((c) => c.startsWith('records'))).toHaveLength(3);
  });

  test('trimmed data or a shard gone before it was read: changes lost, a fresh snapshot needed', async () => {
    const trimmed = fakeStreams([{ id: 's', closed: false, records: ['a'] }], { getShardIterator: [serviceError('TrimmedDataAccessException')] });
    await expect(poll(tableStream(trimmed.api, { stream: 'arn', shards: { s: { after: 's-000000000000000000000' } } }))).rejects.toMatchObject({
      code: 'changes-lost',
      message: 'DynamoDB table t: shard s of its stream no longer holds the changes after the saved position (streams keep them 24 h), so changes were lost: a fresh snapshot is needed (run again without --resume)',
    });

    const gone = fakeStreams([{ id: 'other', closed: false, records: [] }]);
    const cursor: TableCursor = { stream: 'arn', shards: { old: { done: true }, s: { after: 's-000000000000000000000' } } };
    await expect(poll(tableStream(gone.api, cursor))).rejects.toThrow(/shard s of its stream was trimmed \(streams keep changes 24 h\) before its changes were applied, so changes were lost/);
    // A shard read to its end and since trimmed is simply forgotten.
    expect(cursor.shards.old).toBeUndefined();
  });
});

describe('stream records as runs', () => {
  test('a record without its new image, or without a string _id key, is refused with where it was', () => {
    const runs = recordRuns(
      [
        { eventName: 'MODIFY', dynamodb: { SequenceNumber: '1', Keys: { _id: { S: 'k' } } } },
        { eventName: 'REMOVE', dynamodb: { SequenceNumber: '2', Keys: { id: { N: '5' } } } },
      ],
      (r) => `seq ${r.dynamodb!.SequenceNumber}`,
    );
    expect(runs).toEqual([
      {
        docs: [],
        docWhere: [],
        refused: [
          { doc: { id: { N: '5' } }, reason: expect.stringMatching(/a REMOVE record without a string _id key/), where: 'seq 2' },
          { doc: { _id: { S: 'k' } }, reason: 'a MODIFY record without its new image', where: 'seq 1' },
        ],
        lastSequence: '2',
      },
    ]);
  });

  test('numbers stay exact; the lag time is the page\'s last change', () => {
    const at = new Date('2026-11-25T10:00:00Z');
    const runs = recordRuns(
      [{ eventName: 'INSERT', dynamodb: { SequenceNumber: '7', ApproximateCreationDateTime: at, Keys: { _id: { S: 'n' } }, NewImage: { _id: { S: 'n' }, big: { N: '123456789012345678901234567890' } } } }],
      () => 'here',
    );
    expect(runs).toEqual([{ docs: [{ _id: 'n', big: new ExactNumber('123456789012345678901234567890') }], docWhere: ['here'], lastSequence: '7', lastChangeAt: at.getTime() }]);
  });
});
