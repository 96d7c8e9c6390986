/**
 * `--follow` across stores through the built CLI (CouchDB → DynamoDB, Firestore → CouchDB,
 * Firestore → DynamoDB, DynamoDB → Firestore; DynamoDB → CouchDB is in dynamodb-follow.test.ts),
 * one scenario for every pair: a writer process (the
 * app) inserts, updates and deletes in the source all along; the snapshot is held while the test
 * changes and deletes documents it has already read; the follower is killed with SIGKILL mid-way
 * and the app goes on; once the app stops, `--resume --until-caught-up --verify` finds the target
 * identical, deletes included, and reports how many changes it applied twice, within a bound.
 * Every wait is a gate: a line a process prints, the writer's count, the checkpoint polled with a deadline.
 */
import { BatchWriteItemCommand, DeleteItemCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { createStreamTable } from './servers/dynamodb-local.js';
import { Firestore } from '@google-cloud/firestore';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, test } from 'vitest';
import { fromItem } from '../src/formats/dynamodb-json.js';
import { toItem } from '../src/stores/dynamodb/marshal.js';
import type { Doc, RunReport } from '../src/types.js';
import { uniquePrefix } from './corpus.js';
import { eventually, feedApplied, holdTransform, startFollower } from './follow-cli.js';
import { asCouchAdmin } from './servers/couchdb.js';
import { startCouchWriter, startDynamoWriter, startFirestoreWriter, type RunningWriter } from './servers/writer-process.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const couchdbUrl = inject('couchdbUrl');
const couchdbAuthUrl = inject('couchdbAuthUrl');
const dynamodbUrl = inject('dynamodbUrl');
const firestoreHost = inject('firestoreHost');
const firestoreEnv = { FIRESTORE_EMULATOR_HOST: firestoreHost, GOOGLE_CLOUD_PROJECT: `etl-cross-${uniquePrefix()}` };

const dir = mkdtempSync(join(tmpdir(), 'follow-cross-store-'));
writeFileSync(join(dir, 'hold.mjs'), holdTransform);

const dynamo = new DynamoDBClient({ endpoint: dynamodbUrl, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
const firestore = new Firestore({ projectId: firestoreEnv.GOOGLE_CLOUD_PROJECT, host: firestoreHost, ssl: false, useBigInt: true, universeDomain: 'googleapis.com' });
const firestoreTargetClient = new Firestore({ projectId: `${firestoreEnv.GOOGLE_CLOUD_PROJECT}-target`, host: firestoreHost, ssl: false, useBigInt: true, universeDomain: 'googleapis.com' });
afterAll(async () => {
  dynamo.destroy();
  await Promise.all([firestore.terminate(), firestoreTargetClient.terminate()]);
});

/** Seeded `_id`s the writer never touches (they sort before its own): the test changes them during the snapshot. */
const untouched = Array.from({ length: 40 }, (_, i) => `a${String(i).padStart(2, '0')}`);
/** How many of the writer's `_id`s are seeded (it plays with more: it inserts too). */
const seededByWriter = 60;
const writerPool = 100;

/** A store the app writes to, as the test reaches it directly. */
interface Source {
  uri: string;
  /** What the CLI needs in its environment to reach the source. */
  env: NodeJS.ProcessEnv;
  /** A collection holding `docs`, ready to be followed. */
  create(collection: string, docs: Doc[]): Promise<void>;
  /** The writer's i-th `_id`. */
  writerId(i: number): string;
  put(collection: string, doc: Doc): Promise<void>;
  remove(collection: string, id: string): Promise<void>;
  has(collection: string, id: string): Promise<boolean>;
  startWriter(collection: string): RunningWriter;
}

/** A store the follow writes to: what it holds under an `_id`, without the store's own fields. */
interface Target {
  uri: string;
  env: NodeJS.ProcessEnv;
  read(collection: string, id: string): Promise<Doc | undefined>;
}

const couchdb = {
  uri: couchdbAuthUrl.replace(/^http:/, 'couchdb:'),
  env: {},
  async create(db: string, docs: Doc[]) {
    await asCouchAdmin(couchdbUrl, db, { method: 'PUT' });
    await asCouchAdmin(couchdbUrl, `${db}/_bulk_docs`, { method: 'POST', body: { docs } });
  },
  writerId: (i: number) => `k${i}`,
  async put(db: string, doc: Doc) {
    const current = (await asCouchAdmin(couchdbUrl, `${db}/${doc._id}`)) as Doc;
    await asCouchAdmin(couchdbUrl, `${db}/${doc._id}`, { method: 'PUT', body: { ...doc, _rev: current._rev } });
  },
  async remove(db: string, id: string) {
    const current = (await asCouchAdmin(couchdbUrl, `${db}/${id}`)) as Doc;
    await asCouchAdmin(couchdbUrl, `${db}/${id}?rev=${current._rev}`, { method: 'DELETE' });
  },
  has: async (db: string, id: string) => !('error' in ((await asCouchAdmin(couchdbUrl, `${db}/${id}`)) as Doc)),
  startWriter: (db: string) => startCouchWriter(couchdbAuthUrl, [db], { WRITER_POOL: String(writerPool) }),
  async read(db: string, id: string) {
    const doc = (await asCouchAdmin(couchdbUrl, `${db}/${id}`)) as Doc;
    if ('error' in doc) return undefined;
    const { _rev, ...rest } = doc;
    return rest;
  },
} satisfies Source & Target;

const getItem = async (table: string, id: string) => (await dynamo.send(new GetItemCommand({ TableName: table, Key: { _id: { S: id } }, ConsistentRead: true }))).Item;

const dynamodb = {
  uri: dynamodbUrl.replace(/^http:/, 'dynamodb:'),
  env: {},
  async create(table: string, docs: Doc[]) {
    await createStreamTable(dynamo, table, 'NEW_IMAGE');
    for (let i = 0; i < docs.length; i += 25) {
      await dynamo.send(new BatchWriteItemCommand({ RequestItems: { [table]: docs.slice(i, i + 25).map((doc) => ({ PutRequest: { Item: toItem(doc) } })) } }));
    }
  },
  writerId: (i: number) => `w${String(i).padStart(3, '0')}`,
  put: async (table: string, doc: Doc) => void (await dynamo.send(new PutItemCommand({ TableName: table, Item: toItem(doc) }))),
  remove: async (table: string, id: string) => void (await dynamo.send(new DeleteItemCommand({ TableName: table, Key: { _id: { S: id } } }))),
  has: async (table: string, id: string) => (await getItem(table, id)) !== undefined,
  // Numbers beyond 2^53 are dynamodb-follow.test.ts's (into DynamoDB): the writer stays below them here.
  startWriter: (table: string) =>
    startDynamoWriter({ WRITER_ENDPOINT: dynamodbUrl, WRITER_TABLE: table, WRITER_IDS: String(writerPool), WRITER_SMALL_NUMBERS: '1' }),
  async read(table: string, id: string) {
    const item = await getItem(table, id);
    return item && fromItem(item);
  },
} satisfies Source & Target;

const firestoreSource: Source = {
  uri: 'firestore',
  env: firestoreEnv,
  async create(collection, docs) {
    const batch = firestore.batch();
    for (const { _id, ...fields } of docs) batch.set(firestore.collection(collection).doc(String(_id)), fields);
    await batch.commit();
  },
  writerId: (i) => `k${i}`,
  put: async (collection, { _id, ...fields }) => void (await firestore.collection(collection).doc(String(_id)).set(fields)),
  remove: async (collection, id) => void (await firestore.collection(collection).doc(id).delete()),
  has: async (collection, id) => (await firestore.collection(collection).doc(id).get()).exists,
  startWriter: (collection) => startFirestoreWriter([collection], { ...firestoreEnv, WRITER_POOL: String(writerPool) }),
};

/** Another project on the same emulator. */
const firestoreTarget: Target = {
  uri: `firestore://${firestoreEnv.GOOGLE_CLOUD_PROJECT}-target`,
  env: { FIRESTORE_EMULATOR_HOST: firestoreHost },
  async read(collection, id) {
    const snapshot = await firestoreTargetClient.collection(collection).doc(id).get();
    return snapshot.exists ? { _id: id, ...snapshot.data() } : undefined;
  },
};

const batchSize = 25;
const concurrency = 4;

/**
 * The cutover from `source` to `target` while the app writes: the snapshot held while the test
 * changes documents it has read, the follower killed mid-way, the app going on, then stopping; a
 * resumed `--until-caught-up --verify` finds the target identical.
 */
async function cutover(source: Source, target: Target): Promise<void> {
  // Lowercase, a letter first: a valid name in every store.
  const collection = `${uniquePrefix()}_live`;
  const writerIds = Array.from({ length: seededByWriter }, (_, i) => source.writerId(i));
  await source.create(collection, [...untouched, ...writerIds].map((_id) => ({ _id, v: 0 })));
  const checkpoint = `${collection}.ckpt`;
  const run = ['--from', source.uri, '--to', target.uri, '--collections', collection, '--follow', '--checkpoint', checkpoint, '--batch-size', String(batchSize), '--concurrency', String(concurrency), '--transform', './hold.mjs'];
  let updated: string | undefined;
  let deleted: string | undefined;
  const writer = source.startWriter(collection);
  try {
    await writer.until(10);
    const first = startFollower(dir, run, { ...source.env, ...target.env, HOLD_AT: '30' });
    // The snapshot has read 30 documents: the test changes and deletes two of them (ones the app never touches).
    await first.said('held ');
    const seen = JSON.parse(/^held (.*)$/m.exec(first.stderr())![1]!) as string[];
    [updated, deleted] = seen.filter((id) => untouched.includes(id));
    expect(deleted, `two of the untouched documents among those the snapshot read: ${seen.join(' ')}`).toBeDefined();
    await source.put(collection, { _id: updated!, v: 'changed during the snapshot' });
    await source.remove(collection, deleted!);
    await writer.until(writer.ops + 30);
    first.child.kill('SIGUSR2');
    // Following: the feed has applied changes (those made while the snapshot was held among them).
    await eventually('the first run applies 40 changes', () => feedApplied(join(dir, checkpoint)) >= 40);
    first.child.kill('SIGKILL');
    expect((await first.done).signal).toBe('SIGKILL');

    // The app goes on while no one follows, then stops: the cutover.
    await writer.until(writer.ops + 60);
  } finally {
    await writer.stop();
  }

  const resumed = await startFollower(dir, [...run, '--resume', '--until-caught-up', '--verify', '--report', `${collection}.json`], { ...source.env, ...target.env }).done;
  expect(resumed.code, resumed.stderr + resumed.stdout).toBe(0);
  expect(resumed.stdout).toMatch(/^Following: \d+ changes? applied .*caught up with the source\.$/m);
  expect(resumed.stdout).toMatch(/^Identical: .+ holds exactly what .+ holds\.$/m);
  const report = JSON.parse(readFileSync(join(dir, `${collection}.json`), 'utf8')) as RunReport;
  expect(report.ok).toBe(true);
  expect(report.follow!.applied).toBeGreaterThan(0);
  // What the killed run had sent past its saved position comes again: at most its batches in flight and a chunk; the summary says how many.
  const reapplied = report.follow!.reapplied;
  expect(reapplied).toBeLessThanOrEqual((concurrency + 1) * batchSize + batchSize);
  if (reapplied > 0) expect(resumed.stdout).toContain(`At most ${reapplied} change`);

  // The changes made while the snapshot was held, to documents it had read: both in the target.
  expect((await target.read(collection, updated!))?.v).toBe('changed during the snapshot');
  expect(await target.read(collection, deleted!)).toBeUndefined();
  // Seeded documents the app deleted are gone from the target too.
  const gone: string[] = [];
  for (const id of writerIds) if (!(await source.has(collection, id))) gone.push(id);
  expect(gone.length).toBeGreaterThan(0);
  for (const id of gone) expect(await target.read(collection, id), id).toBeUndefined();
}

describe.each([
  { pair: 'CouchDB → DynamoDB', source: couchdb, target: dynamodb },
  { pair: 'Firestore → CouchDB', source: firestoreSource, target: couchdb },
  { pair: 'Firestore → DynamoDB', source: firestoreSource, target: dynamodb },
  { pair: 'DynamoDB → Firestore', source: dynamodb, target: firestoreTarget },
])('$pair --follow through the CLI', ({ source, target }) => {
  test('followed while the app writes, a change during the snapshot kept, killed, resumed: identical once the app stops, deletes included', () => cutover(source, target), 120_000);
});
