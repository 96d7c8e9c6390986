/**
 * Following a live Firestore (the emulator) end to end, into another Firestore project, DynamoDB
 * Local and pouchdb-server, through migrate and through the built CLI: a writer creates, updates
 * and deletes while the follow runs; the target ends equal to the source, deletes included, after
 * a stop or a SIGKILL and `--resume` too.
 */
import { DynamoDBClient, ScanCommand, type ScanCommandOutput } from '@aws-sdk/client-dynamodb';
import { Firestore } from '@google-cloud/firestore';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, test } from 'vitest';
import { migrate } from '../src/pipeline.js';
import type { Doc } from '../src/types.js';
import { verify } from '../src/verify/verify.js';
import { uniquePrefix } from './corpus.js';
import { cleanEnv, spawnCli, runCli } from './generated-export.js';
import { localDynamoEnv } from './helpers.js';
import { basicAuthorization } from './servers/couchdb.js';

const host = inject('firestoreHost');
const dynamoUrl = inject('dynamodbUrl');
const projectId = `etl-follow-e2e-${uniquePrefix()}`;
const env = { ...localDynamoEnv, FIRESTORE_EMULATOR_HOST: host, GOOGLE_CLOUD_PROJECT: projectId };
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const firestoreOf = (project: string) => new Firestore({ projectId: project, host, ssl: false, useBigInt: true, universeDomain: 'googleapis.com' });
const firestore = firestoreOf(projectId);
afterAll(() => firestore.terminate());
const dir = mkdtempSync(join(tmpdir(), 'firestore-follow-'));

/** The ids and values a collection holds, as sorted JSON: equal when the target is in step. */
type State = (collection: string) => Promise<string>;
const sorted = (entries: [string, number][]) => JSON.stringify(entries.sort());

async function sourceState(collection: string): Promise<string> {
  const snapshot = await firestore.collection(collection).get();
  return sorted(snapshot.docs.map((d) => [d.id, Number(d.data().v)]));
}

/** A target of the follow: its URI and how to read what it holds. */
interface Target {
  name: string;
  uri: string;
  state: State;
}

/** Another project on the same emulator. */
function firestoreTarget(): Target {
  const project = `${projectId}-target`;
  const db = firestoreOf(project);
  afterAll(() => db.terminate());
  return {
    name: 'firestore',
    uri: `firestore://${project}`,
    state: async (collection) => sorted((await db.collection(collection).get()).docs.map((d) => [d.id, Number(d.data().v)])),
  };
}

function dynamodbTarget(): Target {
  const dynamo = new DynamoDBClient({ endpoint: dynamoUrl, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  afterAll(() => dynamo.destroy());
  return {
    name: 'dynamodb',
    uri: dynamoUrl.replace(/^http:/, 'dynamodb:'),
    async state(collection) {
      const items: [string, number][] = [];
      let start: ScanCommandOutput['LastEvaluatedKey'];
      do {
        const page: ScanCommandOutput | undefined = await dynamo.send(new ScanCommand({ TableName: collection, ExclusiveStartKey: start })).catch((error: Error) => {
          // Before the run has made the table, the target holds nothing.
          if (error.name === 'ResourceNotFoundException') return undefined;
          throw error;
        });
        items.push(...(page?.Items ?? []).map((i): [string, number] => [i._id!.S!, Number(i.v!.N)]));
        start = page?.LastEvaluatedKey;
      } while (start);
      return sorted(items);
    },
  };
}

/** A CouchDB database per collection, written as the shared server's admin. */
function couchdbTarget(): Target {
  const url = inject('couchdbAuthUrl');
  return {
    name: 'couchdb',
    uri: url.replace(/^http:/, 'couchdb:'),
    async state(collection) {
      const response = await fetch(`${inject('couchdbUrl')}/${collection}/_all_docs?include_docs=true`, { headers: { authorization: basicAuthorization() } });
      // Before the run has made the database, the target holds nothing.
      if (response.status === 404) return sorted([]);
      const { rows } = (await response.json()) as { rows: { id: string; doc: { v: number } }[] };
      return sorted(rows.map((r): [string, number] => [r.id, Number(r.doc.v)]));
    },
  };
}

/** Polls until the target equals the source, failing after `seconds` instead of hanging. */
async function inStep(targetState: State, collection: string, seconds = 20): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const [source, target] = await Promise.all([sourceState(collection), targetState(collection)]);
    if (source === target) return;
    if (Date.now() > deadline) expect(target).toBe(source);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Polls until the run has written a document of the collection (its snapshot is under way), failing after 30 s or when `alive` says the run ended. */
async function copying(targetState: State, collection: string, alive: () => boolean = () => true): Promise<void> {
  const deadline = Date.now() + 30_000;
  while ((await targetState(collection)) === '[]') {
    expect(alive(), 'the run ended before copying anything').toBe(true);
    expect(Date.now(), 'no document copied').toBeLessThan(deadline);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Creates, updates and deletes: `rounds` of each, each write awaited; `after(i)` once round i is written. */
async function writer(collection: string, from: number, rounds: number, after: (round: number) => void = () => {}): Promise<void> {
  const ref = firestore.collection(collection);
  for (let i = from; i < from + rounds; i++) {
    await ref.doc(`new-${i}`).set({ v: i });
    await ref.doc(`seed-${i % 20}`).set({ v: 1000 + i });
    await ref.doc(`seed-${(i % 20) + 20}`).delete();
    after(i);
  }
}

async function seeded(collection: string): Promise<void> {
  const seed = firestore.batch();
  for (let i = 0; i < 60; i++) seed.set(firestore.collection(collection).doc(`seed-${i}`), { v: i });
  await seed.commit();
}

/** The targets a Firestore follow is tested into (each removes and lists its ids). */
const targets: Target[] = [firestoreTarget(), dynamodbTarget(), couchdbTarget()];

describe.each(targets)('firestore → $name --follow', { timeout: 90_000 }, ({ uri, state: targetState }) => {
  test('a follow keeps the target in step with a writer; stopped and resumed, deletes made meanwhile included', async () => {
    const collection = `${uniquePrefix()}_live`;
    await seeded(collection);
    const checkpoint = join(dir, `${collection}.ckpt`);
    const common = { from: 'firestore', to: uri, env, collections: [collection], follow: true, checkpoint, warn: () => {} };

    const stop = new AbortController();
    const run = migrate({ ...common, signal: stop.signal });
    // The head is taken before the snapshot: once the snapshot has written a document, every later change is followed.
    await copying(targetState, collection);
    await writer(collection, 0, 15);
    await inStep(targetState, collection);
    stop.abort();
    const first = await run;
    expect(first.ok).toBe(true);
    expect(first.follow?.applied).toBeGreaterThan(0);
    expect(first.collections[collection]!.deleted).toBeGreaterThan(0);

    // While no one follows: more creates, updates and deletes.
    await writer(collection, 15, 10);
    const resumed = await migrate({ ...common, resume: true, untilCaughtUp: true });
    expect(resumed.ok).toBe(true);
    // The deletes made while stopped were found by comparing with the target, and applied.
    expect(resumed.collections[collection]!.deleted).toBeGreaterThan(first.collections[collection]!.deleted);
    expect(resumed.follow?.applied).toBeGreaterThan(0);
    expect(await targetState(collection)).toBe(await sourceState(collection));
    const verified = await verify({ from: 'firestore', to: uri, env, collections: [collection], warn: () => {} });
    expect(verified.identical).toBe(true);
  });

  test('stopped during the snapshot and resumed: documents already copied and deleted meanwhile are deleted', async () => {
    const collection = `${uniquePrefix()}_midway`;
    await seeded(collection);
    const checkpoint = join(dir, `${collection}.ckpt`);
    const stop = new AbortController();
    // Stops the first run at its snapshot's tenth document (the same transform, disarmed, on resume).
    let armed = true;
    let seen = 0;
    const stopAtTenth = (doc: Doc) => {
      if (armed && ++seen === 10) stop.abort();
      return doc;
    };
    const common = { from: 'firestore', to: uri, env, collections: [collection], follow: true, checkpoint, batchSize: 5, concurrency: 1, transforms: [stopAtTenth], warn: () => {} };
    const first = await migrate({ ...common, signal: stop.signal });
    expect(first.interrupted).toBe(true);
    const copied = JSON.parse(await targetState(collection)) as [string, number][];
    expect(copied.length).toBeGreaterThanOrEqual(10);
    expect(copied.length).toBeLessThan(60);

    // While stopped: a copied document deleted, another updated, one not yet copied deleted, one created.
    const ref = firestore.collection(collection);
    await ref.doc(copied[0]![0]).delete();
    await ref.doc(copied[1]![0]).set({ v: -1 });
    await ref.doc('seed-59').delete();
    await ref.doc('zz-new').set({ v: 7 });

    armed = false;
    const resumed = await migrate({ ...common, resume: true, untilCaughtUp: true });
    expect(resumed.ok).toBe(true);
    expect(await targetState(collection)).toBe(await sourceState(collection));
    expect(JSON.parse(await targetState(collection)).map(([id]: [string]) => id)).not.toContain(copied[0]![0]);
  });
});

/** As an operator runs it: the project from GOOGLE_CLOUD_PROJECT, AWS from a profile in shared files, no key variables. */
function operatorEnv(): NodeJS.ProcessEnv {
  const credentials = join(dir, 'aws-credentials');
  const config = join(dir, 'aws-config');
  // DynamoDB Local keeps a database per access key: the `local` one the in-process clients use.
  writeFileSync(credentials, '[gofannon]\naws_access_key_id = local\naws_secret_access_key = local\n', { mode: 0o600 });
  writeFileSync(config, '[profile gofannon]\nregion = us-east-1\n', { mode: 0o600 });
  const env = cleanEnv({ FIRESTORE_EMULATOR_HOST: host, GOOGLE_CLOUD_PROJECT: projectId, AWS_PROFILE: 'gofannon', AWS_SHARED_CREDENTIALS_FILE: credentials, AWS_CONFIG_FILE: config });
  delete env.AWS_ACCESS_KEY_ID;
  delete env.AWS_SECRET_ACCESS_KEY;
  delete env.DYNAMODB_REGION;
  return env;
}

describe.each(targets)('gofannon-etl --from firestore --to $name --follow', { timeout: 120_000 }, ({ uri, state: targetState }) => {
  test('keeps the target in step with a writer; killed with SIGKILL mid-way, --resume --until-caught-up --verify finds it identical', async () => {
    const collection = `${uniquePrefix()}_cli`;
    await seeded(collection);
    const env = operatorEnv();
    const checkpoint = join(dir, `${collection}.ckpt`);
    const args = ['--from', 'firestore', '--to', uri, '--collections', collection, '--follow', '--checkpoint', checkpoint];
    const follower = spawnCli(args, env);
    await copying(targetState, collection, () => follower.child.exitCode === null);
    await writer(collection, 0, 10);
    await inStep(targetState, collection);

    // Killed while the writer goes on: after its third round, whatever is in flight.
    await writer(collection, 10, 10, (round) => round === 12 && follower.child.kill('SIGKILL'));
    expect((await follower.done).signal).toBe('SIGKILL');
    await writer(collection, 20, 5);

    const resumed = await runCli([...args, '--resume', '--until-caught-up', '--verify'], env);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/^Following: \d+ changes? applied .*caught up with the source\.$/m);
    expect(resumed.stdout).toMatch(/^Identical: /m);
    expect(await targetState(collection)).toBe(await sourceState(collection));
    // 25 rounds deleted seed-20 .. seed-39 (20 documents): all gone from the target too.
    expect(JSON.parse(await targetState(collection)).filter(([id]: [string]) => /^seed-(2\d|3\d)$/.test(id))).toEqual([]);
  });
});
