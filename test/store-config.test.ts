/**
 * Configuration exactly as the app resolves it, through the built CLI against the real servers:
 * DynamoDB Local reached with an AWS profile in shared credentials/config files and no key
 * variables (the tool and a raw SDK client on the same profile see the same tables, both ways);
 * the Firestore project from GOOGLE_CLOUD_PROJECT or a key file's project_id; COUCHDB_USER and
 * COUCHDB_PASSWORD over credentials in the URL on a pouchdb-server with an admin. And never a quiet
 * empty success: nothing found and unknown collections are refused with exit 2.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DynamoDBClient, ListTablesCommand, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { gofannonCollections } from '../src/gofannon.js';
import { uniquePrefix } from './corpus.js';
import { cleanEnv, runCli } from './generated-export.js';
import { startCouch } from './servers/couchdb.js';
import type { RunningServer } from './servers/dynamodb-local.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const dynamoUrl = inject('dynamodbUrl');
const firestoreHost = inject('firestoreHost');
const dir = mkdtempSync(join(tmpdir(), 'store-config-'));
const sample = new URL('../examples/sample-backup.json', import.meta.url).pathname;
const exported = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as { data: Record<string, { _id: string }[]> };
const sampleData = exported(sample).data;

/** The environment with no key or region variable: only what the test names. */
function bare(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env = cleanEnv(extra);
  for (const name of ['DYNAMODB_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) if (!(name in extra)) delete env[name];
  return env;
}

describe('DynamoDB with an AWS profile and no key variables', () => {
  // A fresh access key is a fresh, empty database in DynamoDB Local (one per key and region).
  const keyId = `AKIA${uniquePrefix().replace(/[^A-Za-z0-9]/g, '').slice(-8).toUpperCase()}WXYZ`;
  const otherKeyId = `AKIA${uniquePrefix().replace(/[^A-Za-z0-9]/g, '').slice(-8).toUpperCase()}QRST`;
  const credentialsFile = join(dir, 'credentials');
  const configFile = join(dir, 'config');
  writeFileSync(
    credentialsFile,
    `[gofannon]\naws_access_key_id = ${keyId}\naws_secret_access_key = profile-secret-1\n\n[other]\naws_access_key_id = ${otherKeyId}\naws_secret_access_key = profile-secret-2\n\n[noregion]\naws_access_key_id = AKIANOREGION0000\naws_secret_access_key = x\n`,
  );
  writeFileSync(configFile, '[profile gofannon]\nregion = eu-west-1\n\n[profile other]\nregion = eu-central-1\n');
  const profileEnv = (profile: string, extra: NodeJS.ProcessEnv = {}) =>
    bare({ AWS_SHARED_CREDENTIALS_FILE: credentialsFile, AWS_CONFIG_FILE: configFile, AWS_PROFILE: profile, DYNAMODB_ENDPOINT_URL: dynamoUrl, ...extra });

  const saved = { ...process.env };
  let raw: DynamoDBClient;
  let otherRaw: DynamoDBClient;
  beforeAll(() => {
    // The raw SDK client finds the files through the same variables the CLI gets.
    process.env.AWS_SHARED_CREDENTIALS_FILE = credentialsFile;
    process.env.AWS_CONFIG_FILE = configFile;
    raw = new DynamoDBClient({ endpoint: dynamoUrl, profile: 'gofannon' });
    otherRaw = new DynamoDBClient({ endpoint: dynamoUrl, profile: 'other' });
  });
  afterAll(() => {
    raw?.destroy();
    otherRaw?.destroy();
    process.env = saved;
  });

  test('the tool writes the sample with the profile; a raw client on that profile sees the tables and items', async () => {
    const run = await runCli(['--from', `file:${sample}`, '--to', 'dynamodb', '--quiet'], profileEnv('gofannon'));
    // The SDK's credential chain ran with the tool's logger (it used to crash: "init.logger?.debug is not a function").
    expect(run.stderr).not.toMatch(/is not a function|dummy/);
    expect(run.code, run.stderr).toBe(0);
    const tables = (await raw.send(new ListTablesCommand({}))).TableNames ?? [];
    expect(tables.sort()).toEqual([...gofannonCollections].sort());
    const users = (await raw.send(new ScanCommand({ TableName: 'users' }))).Items ?? [];
    expect(users.map((u) => u._id!.S).sort()).toEqual(sampleData.users!.map((u) => u._id).sort());
  });

  test('a raw client writes with the profile; the tool exports exactly that, and leaves another application\'s table out with a line', async () => {
    for (const table of ['users', 'billing_ledger']) {
      await otherRaw.send(
        new CreateTableCommand({ TableName: table, BillingMode: 'PAY_PER_REQUEST', KeySchema: [{ AttributeName: '_id', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: '_id', AttributeType: 'S' }] }),
      );
    }
    await otherRaw.send(new PutItemCommand({ TableName: 'users', Item: { _id: { S: 'raw-user' }, accessCount: { N: '12345678901234567890' } } }));
    const out = join(dir, 'other.json');
    const run = await runCli(['--from', 'dynamodb', '--to', `file:${out}`], profileEnv('other'));
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain("left out billing_ledger (not Gofannon's)");
    expect(readFileSync(out, 'utf8')).toContain('"accessCount": 12345678901234567890');
    expect(Object.keys(exported(out).data)).toEqual(['users']);

    const all = join(dir, 'other-all.json');
    const everything = await runCli(['--from', 'dynamodb', '--to', `file:${all}`, '--collections', '*', '--quiet'], profileEnv('other'));
    expect(everything.code, everything.stderr).toBe(0);
    expect(Object.keys(exported(all).data).sort()).toEqual(['billing_ledger', 'users']);
  });

  test('a --collections name the account does not hold is refused (exit 2), naming it and what is there', async () => {
    const run = await runCli(['--from', 'dynamodb', '--to', `file:${join(dir, 'typo.json')}`, '--collections', 'userz'], profileEnv('other'));
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(/holds no collection userz; it holds billing_ledger, users/);
  });

  test('nothing found is an error (exit 2) saying where it looked: endpoint, region, the key id\'s last four only', async () => {
    // Same files, another region: DynamoDB Local's database there is empty, as it would be for a wrong region.
    const run = await runCli(['--from', 'dynamodb', '--to', `file:${join(dir, 'empty.json')}`], profileEnv('gofannon', { DYNAMODB_REGION: 'ap-south-1' }));
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toContain(`nothing to read: found no collections at DynamoDB at ${dynamoUrl}, region ap-south-1, access key id …WXYZ`);
    expect(run.stderr).not.toContain(keyId);
  });

  test('an AWS_PROFILE that is not in the files is named, with the profiles that are (not taken for a missing region)', async () => {
    const run = await runCli(['--from', 'dynamodb', '--to', 'null'], profileEnv('gofanon'));
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr.trim()).toBe(`gofannon-etl: AWS_PROFILE=gofanon is not a profile in ${credentialsFile} or ${configFile}; the profiles there: gofannon, noregion, other`);
  });

  test('no region anywhere is a usage error naming DYNAMODB_REGION', async () => {
    const run = await runCli(['--from', 'dynamodb', '--to', 'null'], profileEnv('noregion'));
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(/needs a region: set DYNAMODB_REGION/);
  });

  test('with an endpoint and no credentials anywhere, dummy keys, and a line says so', async () => {
    const run = await runCli(['--from', 'dynamodb', '--to', 'null'], bare({ DYNAMODB_ENDPOINT_URL: dynamoUrl, DYNAMODB_REGION: 'sa-east-1' }));
    expect(run.stderr).toMatch(/no AWS credentials found .*dummy keys/);
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toContain('region sa-east-1, access key id …ocal');
  });
});

describe('Firestore project as the app finds it (emulator)', () => {
  const collections = ['users', 'agents'];

  test('only GOOGLE_CLOUD_PROJECT set: the tool imports there and exports, by default, those of Gofannon\'s nine it holds', async () => {
    const project = `gcp-${uniquePrefix()}`;
    const env = bare({ FIRESTORE_EMULATOR_HOST: firestoreHost, GOOGLE_CLOUD_PROJECT: project });
    const load = await runCli(['--from', `file:${sample}`, '--to', 'firestore', '--collections', collections.join(','), '--quiet'], env);
    expect(load.code, load.stderr).toBe(0);
    const out = join(dir, `${project}.json`);
    const back = await runCli(['--from', 'firestore', '--to', `file:${out}`, '--quiet'], env);
    expect(back.code, back.stderr).toBe(0);
    const data = exported(out).data;
    // The emulator cannot list, but tells which of the nine hold documents: the two written, whole.
    expect(Object.keys(data).sort()).toEqual([...collections].sort());
    for (const c of collections) expect(data[c]!.map((d) => d._id).sort()).toEqual(sampleData[c]!.map((d) => d._id).sort());
  });

  test('the key file\'s project_id names the project (with the emulator the file is not used to sign in)', async () => {
    const project = `key-${uniquePrefix()}`;
    const keyFile = join(dir, `${project}-key.json`);
    writeFileSync(keyFile, JSON.stringify({ type: 'service_account', project_id: project, client_email: 'etl@example.iam.gserviceaccount.com' }));
    const env = bare({ FIRESTORE_EMULATOR_HOST: firestoreHost, GOOGLE_APPLICATION_CREDENTIALS: keyFile });
    const load = await runCli(['--from', `file:${sample}`, '--to', 'firestore', '--collections', 'users', '--quiet'], env);
    expect(load.code, load.stderr).toBe(0);
    // The same documents are where GOOGLE_CLOUD_PROJECT=<that project> looks.
    const out = join(dir, `${project}.json`);
    const back = await runCli(['--from', 'firestore', '--to', `file:${out}`, '--collections', 'users', '--quiet'], bare({ FIRESTORE_EMULATOR_HOST: firestoreHost, GOOGLE_CLOUD_PROJECT: project }));
    expect(back.code, back.stderr).toBe(0);
    expect(exported(out).data.users!.length).toBe(sampleData.users!.length);
  });

  test('an empty project is "nothing found" (exit 2) naming the project; no project at all names every variable', async () => {
    const project = `empty-${uniquePrefix()}`;
    const empty = await runCli(['--from', 'firestore', '--to', `file:${join(dir, 'fs-empty.json')}`], bare({ FIRESTORE_EMULATOR_HOST: firestoreHost, GOOGLE_CLOUD_PROJECT: project }));
    expect(empty.code, empty.stderr).toBe(2);
    expect(empty.stderr).toContain(`nothing to read: found no collections at firestore://${project}`);
    const none = await runCli(['--from', 'firestore', '--to', 'null'], bare({ FIRESTORE_EMULATOR_HOST: firestoreHost }));
    expect(none.code, none.stderr).toBe(2);
    expect(none.stderr).toMatch(/GOOGLE_CLOUD_PROJECT.*GCLOUD_PROJECT.*GOOGLE_APPLICATION_CREDENTIALS.*FIRESTORE_PROJECT_ID/);
  });
});

describe('CouchDB with an admin: COUCHDB_USER / COUCHDB_PASSWORD win over the URL\'s', () => {
  const admin = { user: 'admin', password: 'right-pw' };
  let couch: RunningServer;
  beforeAll(async () => {
    couch = await startCouch(admin);
  });
  afterAll(() => couch?.stop());
  const hostPort = () => couch.url.replace('http://', '');

  test('wrong password in the URL, right one in the variables: the import runs with the variables\'', async () => {
    const env = bare({ COUCHDB_URL: `http://admin:wrong-pw@${hostPort()}`, COUCHDB_USER: admin.user, COUCHDB_PASSWORD: admin.password });
    const run = await runCli(['--from', `file:${sample}`, '--to', 'couchdb', '--collections', 'users', '--quiet'], env);
    expect(run.code, run.stderr).toBe(0);
    const listed = await fetch(`${couch.url}/_all_dbs`, { headers: { authorization: `Basic ${Buffer.from('admin:right-pw').toString('base64')}` } });
    expect(await listed.json()).toContain('users');
  });

  test('right password in the URL, wrong one in the variables: refused, as the app would be, without either password', async () => {
    const env = bare({ COUCHDB_URL: `http://admin:right-pw@${hostPort()}`, COUCHDB_USER: admin.user, COUCHDB_PASSWORD: 'wrong-pw' });
    const run = await runCli(['--from', 'couchdb', '--to', 'null'], env);
    expect(run.code, run.stderr).toBe(3);
    expect(run.stderr).toMatch(/refused the credentials for user admin/);
    expect(run.stderr).not.toMatch(/right-pw|wrong-pw/);
  });

  test('a URI typed in the command keeps its own credentials; the variables fill in only what it leaves out', async () => {
    const env = bare({ COUCHDB_USER: 'someone-else', COUCHDB_PASSWORD: 'wrong-pw' });
    const typed = await runCli(['--from', `couchdb://admin:right-pw@${hostPort()}`, '--to', 'null', '--quiet'], env);
    expect(typed.code, typed.stderr).toBe(0);
    const userOnly = await runCli(['--from', `couchdb://admin@${hostPort()}`, '--to', 'null', '--quiet'], bare({ COUCHDB_PASSWORD: admin.password }));
    expect(userOnly.code, userOnly.stderr).toBe(0);
  });

  test('a server holding no Gofannon database, default choice: nothing found (exit 2), naming what it holds', async () => {
    const auth = { authorization: `Basic ${Buffer.from('admin:right-pw').toString('base64')}` };
    const fresh = await startCouch(admin);
    try {
      await fetch(`${fresh.url}/other_app`, { method: 'PUT', headers: auth });
      const env = bare({ COUCHDB_URL: fresh.url, COUCHDB_USER: admin.user, COUCHDB_PASSWORD: admin.password });
      const run = await runCli(['--from', 'couchdb', '--to', 'null'], env);
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toMatch(/nothing to read: found none of Gofannon's collections .*, only other_app at couchdb:\/\/admin:\*\*\*@/);
    } finally {
      await fresh.stop();
    }
  });
});
