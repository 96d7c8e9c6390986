/**
 * The sample backup through every store and back, under the app's own collection names:
 * file -> store -> file, and `verify` says identical at each step. Each store gets a database of
 * its own so the names can be exactly Gofannon's: DynamoDB Local a database per access key, a
 * dedicated pouchdb-server, a Firestore project per run, a memory store per name.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { gofannonCollections } from '../src/gofannon.js';
import { migrate, type MigrateOptions } from '../src/pipeline.js';
import type { Doc } from '../src/types.js';
import { verify } from '../src/verify/verify.js';
import { sortById, uniquePrefix } from './corpus.js';
import { startCouch } from './servers/couchdb.js';
import type { RunningServer } from './servers/dynamodb-local.js';

const sample = resolve(fileURLToPath(new URL('../examples/sample-backup.json', import.meta.url)));
const sampleData = (JSON.parse(readFileSync(sample, 'utf8')) as { data: Record<string, Doc[]> }).data;
const dir = mkdtempSync(join(tmpdir(), 'sample-roundtrip-'));
const quiet = { warn: () => {} };

let couch: RunningServer;
beforeAll(async () => {
  couch = await startCouch();
});
afterAll(() => couch?.stop());

/** file -> store -> file: every document written and read back, the copy identical to the sample. */
async function roundTrip(store: string, options: Pick<MigrateOptions, 'env' | 'collections'> = {}): Promise<void> {
  const imported = await migrate({ from: `file:${sample}`, to: store, ...quiet, ...options });
  for (const c of gofannonCollections) {
    expect(imported.collections[c], c).toMatchObject({ read: sampleData[c]!.length, written: sampleData[c]!.length, failed: 0 });
  }
  const stored = await verify({ from: `file:${sample}`, to: store, ...quiet, ...options });
  expect(stored.identical, JSON.stringify(stored.collections)).toBe(true);

  const output = join(dir, `${uniquePrefix()}.json`);
  const exported = await migrate({ from: store, to: `file:${output}`, ...quiet, ...options });
  expect(exported.ok).toBe(true);
  const copy = await verify({ from: `file:${sample}`, to: `file:${output}`, ...quiet });
  expect(copy.identical, JSON.stringify(copy.collections)).toBe(true);
  expect(Object.keys(copy.collections).sort()).toEqual([...gofannonCollections].sort());

  // And without our own verify: the same documents, field for field, as JSON.parse sees them.
  const back = (JSON.parse(readFileSync(output, 'utf8')) as { data: Record<string, Doc[]> }).data;
  expect(Object.keys(back).sort()).toEqual([...gofannonCollections].sort());
  for (const c of gofannonCollections) expect(sortById(back[c]!), c).toEqual(sortById(sampleData[c]!));
}

test('file -> memory -> file', async () => {
  await roundTrip(`memory:sample-${uniquePrefix()}`);
});

test('file -> CouchDB -> file, in databases named as the app names them', async () => {
  await roundTrip(couch.url.replace(/^http:/, 'couchdb:'));
});

test('file -> DynamoDB -> file, in tables named as the app names them', async () => {
  // DynamoDB Local keeps a database per access key: this key's is empty but for the sample.
  const env = { AWS_ACCESS_KEY_ID: `sample${uniquePrefix()}`, AWS_SECRET_ACCESS_KEY: 'sampleSecret', DYNAMODB_REGION: 'us-east-1' };
  await roundTrip(inject('dynamodbUrl').replace(/^http:/, 'dynamodb:'), { env });
});

test('file -> Firestore (emulator) -> file, in root collections named as the app names them', async () => {
  const env = { FIRESTORE_EMULATOR_HOST: inject('firestoreHost') };
  // The emulator cannot list collections: name the nine.
  await roundTrip(`firestore://sample-${uniquePrefix()}`, { env, collections: [...gofannonCollections] });
});
