/**
 * The collections a run reads (pipeline/collections.ts) where the source cannot list them up front:
 * the Firestore emulator, which can still tell which collections hold documents, and exports whose
 * list of collections comes last (a gzipped export of ours, stdin). A named collection such a source
 * does not hold is refused with exit 2, and nothing found is an error before anything is created in
 * the target: never a quiet empty or partial success.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { Firestore } from '@google-cloud/firestore';
import { afterAll, describe, expect, inject, test } from 'vitest';
import { checkChosenRead, selectCollections } from '../src/pipeline/collections.js';
import type { Source } from '../src/types.js';
import { uniquePrefix } from './corpus.js';
import { cleanEnv, cliPath, runCli, writeGeneratedExport } from './generated-export.js';
import { failure } from './helpers.js';

const firestoreHost = inject('firestoreHost');
const dynamoUrl = inject('dynamodbUrl');
const dir = mkdtempSync(join(tmpdir(), 'collections-'));
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

/** A shared store that cannot list, holding `held`; or, without `held`, a file that can tell nothing up front. */
function unlisted(held?: string[]): Source {
  return {
    label: 'fake://store',
    provider: 'fake',
    shared: held !== undefined,
    lookedAt: () => 'the fake store at somewhere:1',
    identity: async () => 'fake',
    listCollections: async () => undefined,
    ...(held ? { holding: async (names: string[]) => names.filter((n) => held.includes(n)) } : {}),
    read: async function* () {},
    close: async () => {},
  };
}

describe('the rule, for a source that cannot list', () => {
  test('a store that can tell what it holds: Gofannon\'s collections that are there; nothing there is nothing found, before reading', async () => {
    const emulator = unlisted(['users', 'agents', 'custom']);
    expect(await selectCollections(emulator, undefined, () => {})).toEqual({ chosen: ['agents', 'users'], listed: true, unconfirmed: [] });
    expect((await selectCollections(emulator, ['custom'], () => {})).chosen).toEqual(['custom']);
    const none = await failure(() => selectCollections(unlisted(['custom']), undefined, () => {}));
    expect(none).toMatchObject({ kind: 'usage', code: 'nothing-found' });
    expect(none.message).toBe('nothing to read: found no collections at the fake store at somewhere:1');
  });

  test('a named collection it does not hold is refused; \'*\' cannot be read from it', async () => {
    const typo = await failure(() => selectCollections(unlisted(['users', 'agents']), ['agents', 'agnets'], () => {}));
    expect(typo).toMatchObject({ kind: 'usage', code: 'unknown-collection' });
    expect(typo.message).toBe('fake://store holds no collection agnets; it holds agents, users (looked at the fake store at somewhere:1)');
    const every = await failure(() => selectCollections(unlisted(['users']), ['*'], () => {}));
    expect(every).toMatchObject({ kind: 'usage', code: 'cannot-list-collections' });
    expect(every.message).toMatch(/cannot list its collections, so '\*' cannot be read: name them with --collections/);
  });

  test('a source that can tell nothing up front is checked once read whole', async () => {
    const stdin = unlisted();
    const selection = await selectCollections(stdin, ['users', 'agnets'], () => {});
    expect(selection).toEqual({ chosen: ['agnets', 'users'], listed: false, unconfirmed: ['agnets', 'users'] });
    await checkChosenRead(stdin, selection, new Set(['users', 'agnets']));
    const after = await failure(() => checkChosenRead(stdin, selection, new Set(['users'])));
    expect(after).toMatchObject({ kind: 'usage', code: 'unknown-collection' });
    expect(after.message).toBe('fake://store holds no collection agnets; it holds users (looked at the fake store at somewhere:1)');
    // Without a choice there is nothing to confirm.
    expect((await selectCollections(stdin, undefined, () => {})).unconfirmed).toEqual([]);
  });
});

describe('the Firestore emulator, which cannot list', () => {
  const dbs: Firestore[] = [];
  afterAll(() => Promise.all(dbs.map((db) => db.terminate())));

  /** A project of its own holding `collections`, one document each. */
  async function projectWith(collections: string[]): Promise<string> {
    const project = `coll-${uniquePrefix()}`;
    const db = new Firestore({ projectId: project, host: firestoreHost, ssl: false, universeDomain: 'googleapis.com' });
    dbs.push(db);
    for (const name of collections) await db.collection(name).doc(`${name}-1`).set({ name });
    return project;
  }

  test('by default, Gofannon\'s collections that hold documents: no empty array for the others', async () => {
    const project = await projectWith(['agents', 'site_admin_audit', 'other_app']);
    const out = join(dir, `${project}.json`);
    const run = await runCli(['--from', 'firestore', '--to', `file:${out}`, '--quiet'], cleanEnv({ FIRESTORE_EMULATOR_HOST: firestoreHost, GOOGLE_CLOUD_PROJECT: project }));
    expect(run.code, run.stderr).toBe(0);
    const data = (JSON.parse(readFileSync(out, 'utf8')) as { data: Record<string, unknown[]> }).data;
    expect(Object.keys(data).sort()).toEqual(['agents', 'site_admin_audit']);
  });

  test('none of the nine there: nothing found (exit 2) before any table is created in the target', async () => {
    const project = await projectWith(['other_app']);
    // A key of its own: a fresh, empty database in DynamoDB Local, to see whether anything was created.
    const key = `AKIA${uniquePrefix().replace(/[^A-Za-z0-9]/g, '').toUpperCase()}`;
    const env = cleanEnv({ FIRESTORE_EMULATOR_HOST: firestoreHost, GOOGLE_CLOUD_PROJECT: project, AWS_ACCESS_KEY_ID: key, AWS_SECRET_ACCESS_KEY: 'emptySecret', DYNAMODB_REGION: 'us-east-1' });
    const run = await runCli(['--from', 'firestore', '--to', dynamoUrl.replace(/^http:/, 'dynamodb:')], env);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe(`gofannon-etl: nothing to read: found no collections at firestore://${project} (emulator ${firestoreHost})`);
    const raw = new DynamoDBClient({ endpoint: dynamoUrl, region: 'us-east-1', credentials: { accessKeyId: key, secretAccessKey: 'emptySecret' } });
    expect((await raw.send(new ListTablesCommand({}))).TableNames).toEqual([]);
    raw.destroy();
  });

  test('a named collection the project does not hold is refused (exit 2), naming what it holds of the nine; \'*\' too', async () => {
    const project = await projectWith(['agents', 'tickets']);
    const env = cleanEnv({ FIRESTORE_EMULATOR_HOST: firestoreHost, GOOGLE_CLOUD_PROJECT: project });
    const out = join(dir, `${project}-typo.json`);
    const typo = await runCli(['--from', 'firestore', '--to', `file:${out}`, '--collections', 'agents,agnets'], env);
    expect(typo.code).toBe(2);
    expect(typo.stderr.trim()).toBe(`gofannon-etl: firestore://${project} (emulator ${firestoreHost}) holds no collection agnets; it holds agents, tickets (looked at firestore://${project} (emulator ${firestoreHost}))`);
    expect(() => readFileSync(out)).toThrow();
    const every = await runCli(['--from', 'firestore', '--to', 'null', '--collections', '*'], env);
    expect(every.code).toBe(2);
    expect(every.stderr).toMatch(/cannot list its collections, so '\*' cannot be read/);
  });
});

describe('an export whose list of collections comes last', () => {
  test('gzipped: a named collection it does not hold is refused once read (exit 2), and no output file is left', async () => {
    const plain = join(dir, 'plain.json');
    writeGeneratedExport(plain, { agents: 3 });
    // Our own exports put the metadata last; gzipped, nothing tells the collections before reading.
    const ours = join(dir, 'ours.json');
    expect((await runCli(['--from', `file:${plain}`, '--to', `file:${ours}`, '--quiet'])).code).toBe(0);
    const gz = join(dir, 'ours.json.gz');
    writeFileSync(gz, gzipSync(readFileSync(ours)));
    const out = join(dir, 'from-gz.json');
    const run = await runCli(['--from', `file:${gz}`, '--to', `file:${out}`, '--collections', 'agents,users']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`gofannon-etl: file:${gz} holds no collection users; it holds agents`);
    expect(() => readFileSync(out)).toThrow();
  });

  test('stdin: the same, once read', () => {
    const input = JSON.stringify({ data: { agents: [{ _id: 'a' }] } });
    const run = spawnSync(process.execPath, [cliPath, '--from', '-', '--to', 'null', '--collections', 'agents,users'], { input, encoding: 'utf8', env: cleanEnv() });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('holds no collection users; it holds agents');
  });
});
