/**
 * The DynamoDB source's change feed (`--follow`) against DynamoDB Local's Streams: the head taken
 * before the scan, creates, updates and deletes in order, resuming from a position, what a table
 * without a usable stream gets, `enableStream`, stopping.
 */
import { DeleteItemCommand, DynamoDBClient, PutItemCommand, UpdateTableCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { createStreamTable, type StreamView } from './servers/dynamodb-local.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, test } from 'vitest';
import { ExactNumber } from '../src/formats/exact-number.js';
import dynamodbSource from '../src/sources/dynamodb.js';
import type { StreamFeed } from '../src/stores/dynamodb/stream-feed.js';
import type { AdapterOptions, Position, Source, SourceChunk } from '../src/types.js';
import { uniquePrefix } from './corpus.js';
import { failure, testAdapterOptions } from './helpers.js';

const url = inject('dynamodbUrl');
const uri = { scheme: 'dynamodb', rest: url.replace(/^http:/, ''), raw: url.replace(/^http:/, 'dynamodb:') };

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const raw = new DynamoDBClient({ endpoint: url, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
afterAll(() => raw.destroy());

const createTable = (name: string, view?: StreamView, client = raw) => createStreamTable(client, name, view);

const put = (table: string, item: Record<string, AttributeValue>) => raw.send(new PutItemCommand({ TableName: table, Item: item }));
const remove = (table: string, id: string) => raw.send(new DeleteItemCommand({ TableName: table, Key: { _id: { S: id } } }));

async function sourceOf(o: Partial<AdapterOptions> = {}): Promise<Source & { warnings: string[] }> {
  const options = testAdapterOptions(o);
  return Object.assign(await dynamodbSource(uri, options), { warnings: options.warnings });
}

/** What a change chunk says, in order: `put id v`, `delete id`, `caught up`. */
function describeChunk(chunk: SourceChunk): string[] {
  if (chunk.caughtUp) return ['caught up'];
  if (chunk.deletes) return chunk.deletes.map((id) => `delete ${id}`);
  return (chunk.docs as { _id: string; v?: unknown }[]).map((doc) => `put ${doc._id} ${String(doc.v)}`);
}

/** Reads changes until a chunk satisfies `last` (then stops the feed), returning every chunk. */
async function changesUntil(source: Source, collections: string[], from: Position, last: (chunk: SourceChunk) => boolean): Promise<SourceChunk[]> {
  const controller = new AbortController();
  const chunks: SourceChunk[] = [];
  for await (const chunk of source.feed!.changes({ collections: new Set(collections), from, signal: controller.signal })) {
    chunks.push(chunk);
    if (last(chunk)) controller.abort();
  }
  return chunks;
}

/**
 * Stops at the first chunk that says caught up once `n` changes have come: a stream record shows
 * up a moment after its write, so the feed may well be caught up before it.
 */
function caughtUpAfter(n: number): (chunk: SourceChunk) => boolean {
  let seen = 0;
  return (chunk) => {
    seen += chunk.docs.length + (chunk.deletes?.length ?? 0);
    return chunk.caughtUp === true && seen >= n;
  };
}

/** The changes of these chunks, without the caught-up marks between them. */
const changesIn = (chunks: SourceChunk[]) => chunks.flatMap(describeChunk).filter((change) => change !== 'caught up');

const idOf = (change: string) => change.split(' ')[1]!;

/**
 * The feed hands on, per page of the stream, each item's last change there: what comes for an
 * item is, in order, a part of what the app did to it (a change possibly twice), ending with its
 * last change. Checks that
 * of `delivered` against `made` (the app's changes, in order), for every item made (`complete`:
 * its last change came too).
 */
function expectInOrderPerItem(delivered: string[], made: string[], complete = true): void {
  for (const id of new Set(made.map(idOf))) {
    const madeFor = made.filter((change) => idOf(change) === id);
    const deliveredFor = delivered.filter((change) => idOf(change) === id);
    if (complete) expect(deliveredFor.at(-1), `last change of ${id}`).toBe(madeFor.at(-1));
    // A change may come again (at least once, after a restart), never before an earlier one.
    let at = 0;
    for (const change of deliveredFor) {
      at = madeFor.indexOf(change, at);
      expect(at, `${id}: ${deliveredFor.join(', ')} in the order of ${madeFor.join(', ')}`).toBeGreaterThanOrEqual(0);
    }
  }
  expect(delivered.filter((change) => !made.includes(change))).toEqual([]);
}

/** Stops once the feed is caught up and has handed on the last of these changes (`put id v` or `delete id`) for every item. */
function caughtUpWith(made: string[]): (chunk: SourceChunk) => boolean {
  const lastOf = new Map(made.map((change) => [idOf(change), change]));
  const latest = new Map<string, string>();
  return (chunk) => {
    for (const change of describeChunk(chunk)) if (change !== 'caught up') latest.set(idOf(change), change);
    return chunk.caughtUp === true && [...lastOf].every(([id, change]) => latest.get(id) === change);
  };
}

const signal = () => new AbortController().signal;

describe('dynamodb change feed', () => {
  test('changes after the head: creates, updates and deletes in order, numbers exact, then caught up', async () => {
    const table = `${uniquePrefix()}_feed`;
    await createTable(table, 'NEW_IMAGE');
    await put(table, { _id: { S: 'before' }, v: { N: '0' } });
    const source = await sourceOf();
    const head = await source.feed!.head([table], signal());

    await put(table, { _id: { S: 'a' }, v: { N: '1' } });
    await put(table, { _id: { S: 'b' }, v: { N: '1' } });
    await put(table, { _id: { S: 'a' }, v: { N: '2' } });
    await remove(table, 'b');
    await remove(table, 'never-there');
    await put(table, { _id: { S: 'big' }, v: { N: '123456789012345678901234567890' } });
    await put(table, { _id: { S: 'b' }, v: { N: '3' } });

    const made = ['put a 1', 'put b 1', 'put a 2', 'delete b', 'put big 123456789012345678901234567890', 'put b 3'];
    const chunks = await changesUntil(source, [table], head, caughtUpWith(made));
    await source.close();
    // Nothing from before the head ('before'), each item's changes in order, each one's last.
    expectInOrderPerItem(changesIn(chunks), made);
    expect(chunks.flatMap((c) => c.docs).find((d) => (d as { _id: string })._id === 'big')).toEqual({ _id: 'big', v: new ExactNumber('123456789012345678901234567890') });
    expect(chunks.every((c) => c.collection === table && c.position !== undefined)).toBe(true);
    expect(chunks.at(-1)!.lag).toEqual({ changes: 0, seconds: 0 });
    const puts = chunks.find((c) => c.docs.length > 0)!;
    expect(puts.lag?.seconds).toBeGreaterThanOrEqual(0);
    expect(puts.where!(0)).toMatch(new RegExp(`table ${table} stream shard \\S+ sequence \\d+`));
  });

  test('a change made during the scan comes from the feed; stopping keeps the place for a resume', async () => {
    const table = `${uniquePrefix()}_during`;
    await createTable(table, 'NEW_AND_OLD_IMAGES');
    for (let i = 0; i < 30; i++) await put(table, { _id: { S: `d${i}` }, v: { N: '0' } });
    const source = await sourceOf({ batchSize: 10 });
    const head = await source.feed!.head([table], signal());

    // The scan's first page is read; the app then changes an item the scan may or may not see.
    const scanned: string[] = [];
    let changed = false;
    for await (const chunk of source.read({ collections: new Set([table]), signal: signal() })) {
      scanned.push(...chunk.docs.map((d) => (d as { _id: string })._id));
      if (!changed && chunk.docs.length > 0) {
        changed = true;
        await put(table, { _id: { S: 'd29' }, v: { N: '7' } });
        await put(table, { _id: { S: 'new' }, v: { N: '7' } });
        await remove(table, 'd0');
      }
    }
    expect(scanned).toHaveLength(30 + (scanned.includes('new') ? 1 : 0) - (scanned.includes('d0') ? 0 : 1));

    const first = await changesUntil(source, [table], head, (chunk) => describeChunk(chunk).includes('put new 7'));
    expectInOrderPerItem(changesIn(first), ['put d29 7', 'put new 7', 'delete d0'], false);
    expect(changesIn(first)).toEqual(expect.arrayContaining(['put d29 7', 'put new 7']));
    // The app goes on while nobody follows; a resume from the last position gets what came after.
    await put(table, { _id: { S: 'later' }, v: { N: '8' } });
    const rest = await changesUntil(source, [table], first.at(-1)!.position!, caughtUpWith(['delete d0', 'put later 8']));
    await source.close();
    const all = [...changesIn(first), ...changesIn(rest)];
    expectInOrderPerItem(all, ['put d29 7', 'put new 7', 'delete d0', 'put later 8']);
    // Nothing handed on before the stop is lost; at most the page it stopped in comes again.
    expect(all.filter((c) => c === 'put later 8')).toHaveLength(1);
  });

  test('during a long snapshot the head is pinned at the first change after it, which the feed then starts at', async () => {
    const table = `${uniquePrefix()}_kept`;
    await createTable(table, 'NEW_IMAGE');
    await put(table, { _id: { S: 'before' }, v: { N: '0' } });
    const source = await sourceOf();
    const feed = source.feed as StreamFeed;
    const head = await feed.head([table], signal());
    // Rounds of the keeper, as its timer makes them every few minutes while the scan runs.
    await feed.keeper.refresh();
    await put(table, { _id: { S: 'a' }, v: { N: '1' } });
    await put(table, { _id: { S: 'a' }, v: { N: '2' } });
    await feed.keeper.refresh();
    await put(table, { _id: { S: 'b' }, v: { N: '1' } });
    await feed.keeper.refresh();
    const latest = Object.values((head.tables as Record<string, { shards: Record<string, { latest: string }> }>)[table]!.shards)[0]!.latest;
    expect(await feed.keeper.resolve(latest)).toEqual({ at: expect.stringMatching(/^\d+$/) });
    const made = ['put a 1', 'put a 2', 'put b 1'];
    const chunks = await changesUntil(source, [table], head, caughtUpWith(made));
    await source.close();
    expectInOrderPerItem(changesIn(chunks), made);
  });

  test('a shard still empty at the head, whose first record comes after other tables\' writes', async () => {
    // DynamoDB Local numbers stream records across tables and refuses an iterator taken on an empty
    // shard as trimmed once its first record has a later number (found following two tables by the CLI).
    const table = `${uniquePrefix()}_empty`;
    const other = `${table}_other`;
    await createTable(table, 'NEW_IMAGE');
    await createTable(other, 'NEW_IMAGE');
    const source = await sourceOf();
    const head = await source.feed!.head([table], signal());
    await put(other, { _id: { S: 'elsewhere' }, v: { N: '1' } });
    await put(other, { _id: { S: 'elsewhere2' }, v: { N: '1' } });
    await put(table, { _id: { S: 'first' }, v: { N: '1' } });
    const chunks = await changesUntil(source, [table], head, caughtUpAfter(1));
    await source.close();
    expect(changesIn(chunks)).toEqual(['put first 1']);
    expect(source.warnings.filter((w) => /stream/.test(w))).toEqual([]);
  });

  test('a table without a stream: one line saying how to enable it; enableStream turns it on', async () => {
    const table = `${uniquePrefix()}_nostream`;
    await createTable(table);
    const source = await sourceOf();
    const error = await failure(() => source.feed!.head([table], signal()));
    expect(error.kind).toBe('usage');
    expect(error.message).toBe(
      `DynamoDB table ${table} has no stream, which --follow reads: enable one with ` +
        `\`aws dynamodb update-table --table-name ${table} --stream-specification StreamEnabled=true,StreamViewType=NEW_IMAGE\`, or run again with --enable-stream`,
    );
    // Several: named at once, with one command that enables every one.
    const other = `${table}2`;
    await createTable(other);
    const both = await failure(() => source.feed!.head([table, other], signal()));
    expect(both.message).toBe(
      `DynamoDB tables ${table}, ${other} have no stream, which --follow reads: enable them with ` +
        `\`aws dynamodb update-table --table-name ${table} --stream-specification StreamEnabled=true,StreamViewType=NEW_IMAGE && ` +
        `aws dynamodb update-table --table-name ${other} --stream-specification StreamEnabled=true,StreamViewType=NEW_IMAGE\`, or run again with --enable-stream`,
    );
    await source.close();

    const enabling = await sourceOf({ enableStream: true });
    const head = await enabling.feed!.head([table], signal());
    expect(enabling.warnings.join('\n')).toMatch(new RegExp(`DynamoDB table ${table}: enabled a NEW_IMAGE stream for --follow`));
    await put(table, { _id: { S: 'x' }, v: { N: '1' } });
    const chunks = await changesUntil(enabling, [table], head, caughtUpAfter(1));
    await enabling.close();
    expect(changesIn(chunks)).toEqual(['put x 1']);
  });

  test('a stream of keys or old images only is refused, saying why, even with enableStream', async () => {
    const table = `${uniquePrefix()}_keys`;
    await createTable(table, 'KEYS_ONLY');
    const source = await sourceOf({ enableStream: true });
    const error = await failure(() => source.feed!.head([table], signal()));
    await source.close();
    expect(error.kind).toBe('usage');
    expect(error.message).toMatch(new RegExp(`^DynamoDB table ${table} has a KEYS_ONLY stream, which carries no documents: --follow needs NEW_IMAGE or NEW_AND_OLD_IMAGES`));
    expect(error.message).toContain(`--table-name ${table} --stream-specification StreamEnabled=false`);
  });

  test('a prefix names the tables; a collection with no table is named', async () => {
    const prefix = `${uniquePrefix()}-`;
    await createTable(`${prefix}agents`, 'NEW_IMAGE');
    const source = await sourceOf({ tablePrefix: prefix });
    const head = await source.feed!.head(['agents'], signal());
    await put(`${prefix}agents`, { _id: { S: 'a' }, v: { N: '1' } });
    const chunks = await changesUntil(source, ['agents'], head, caughtUpAfter(1));
    expect(changesIn(chunks)).toEqual(['put a 1']);
    expect(new Set(chunks.map((c) => c.collection))).toEqual(new Set(['agents']));
    const error = await failure(() => source.feed!.head(['nope'], signal()));
    await source.close();
    expect(error.message).toMatch(new RegExp(`no table ${prefix}nope for collection nope, so nothing to follow`));
  });

  test('a stream disabled, or replaced, since the position: changes were lost, said so', async () => {
    const table = `${uniquePrefix()}_lost`;
    await createTable(table, 'NEW_IMAGE');
    const source = await sourceOf();
    const head = await source.feed!.head([table], signal());
    await put(table, { _id: { S: 'a' }, v: { N: '1' } });
    await raw.send(new UpdateTableCommand({ TableName: table, StreamSpecification: { StreamEnabled: false } }));
    // What was recorded before the stream was turned off is applied; then the follow cannot go on.
    const seen: string[] = [];
    const disabled = await failure(async () => {
      for await (const chunk of source.feed!.changes({ collections: new Set([table]), from: head, signal: signal() })) seen.push(...describeChunk(chunk));
    });
    expect(seen.filter((change) => change !== 'caught up')).toEqual(['put a 1']);
    expect(disabled).toMatchObject({ kind: 'fatal', code: 'changes-lost' });
    expect(disabled.message).toBe(
      `DynamoDB table ${table}: its stream was disabled while following, and changes after that are not recorded, so changes were lost: a fresh snapshot is needed (run again without --resume)`,
    );

    await raw.send(new UpdateTableCommand({ TableName: table, StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_IMAGE' } }));
    const replaced = await failure(async () => {
      for await (const chunk of source.feed!.changes({ collections: new Set([table]), from: head, signal: signal() })) void chunk;
    });
    await source.close();
    expect(replaced.message).toMatch(/its stream is not the one the position was taken on .* a fresh snapshot is needed/);
  });

  test('stopping while it waits for changes ends the feed at once, without an error', async () => {
    const table = `${uniquePrefix()}_stop`;
    await createTable(table, 'NEW_IMAGE');
    // The feed never ends by itself: only the abort can end this loop before the test's timeout.
    const source = await sourceOf();
    const head = await source.feed!.head([table], signal());
    const controller = new AbortController();
    const chunks: SourceChunk[] = [];
    const started = Date.now();
    for await (const chunk of source.feed!.changes({ collections: new Set([table]), from: head, signal: controller.signal })) {
      chunks.push(chunk);
      // Stop once the feed has said it is caught up, i.e. while it waits.
      if (chunk.caughtUp) setImmediate(() => controller.abort());
    }
    await source.close();
    expect(chunks.map((c) => c.caughtUp)).toEqual([true]);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  test('with an AWS profile and no key variables, the streams are read as the profile (its key, its region)', async () => {
    // DynamoDB Local keeps one database per key and region: signing as anyone else finds no such stream.
    const dir = mkdtempSync(join(tmpdir(), 'dynamodb-stream-'));
    const credentialsFile = join(dir, 'credentials');
    const configFile = join(dir, 'config');
    writeFileSync(credentialsFile, '[follow]\naws_access_key_id = AKIAFOLLOWPROFILE1\naws_secret_access_key = follow-secret\n');
    writeFileSync(configFile, '[profile follow]\nregion = eu-west-1\n');
    const saved = { ...process.env };
    process.env.AWS_SHARED_CREDENTIALS_FILE = credentialsFile;
    process.env.AWS_CONFIG_FILE = configFile;
    const asProfile = new DynamoDBClient({ endpoint: url, profile: 'follow' });
    try {
      const table = `${uniquePrefix()}_profile`;
      await createTable(table, 'NEW_IMAGE', asProfile);
      const source = await sourceOf({ env: { AWS_PROFILE: 'follow', DYNAMODB_ENDPOINT_URL: url } });
      const head = await source.feed!.head([table], signal());
      await asProfile.send(new PutItemCommand({ TableName: table, Item: { _id: { S: 'p' }, v: { N: '1' } } }));
      const chunks = await changesUntil(source, [table], head, caughtUpAfter(1));
      await source.close();
      expect(changesIn(chunks)).toEqual(['put p 1']);
      expect(source.warnings.join('\n')).not.toMatch(/dummy/);
    } finally {
      asProfile.destroy();
      process.env = saved;
    }
  });
});
