/**
 * Other tools' backups into the real stores (DynamoDB Local, the Firestore emulator), read back
 * through our sources and compared document by document: what the readers give is what the
 * stores keep, numbers and tagged values included.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, inject, test } from 'vitest';
import { migrate } from '../src/pipeline.js';
import dynamodbSource from '../src/sources/dynamodb.js';
import firestoreSource from '../src/sources/firestore.js';
import type { Doc, Source } from '../src/types.js';
import stripCouchMeta from '../src/transforms/strip-couch-meta.js';
import { verify } from '../src/verify/verify.js';
import { sortById, uniquePrefix } from './corpus.js';
import { dynamoItems, firestoreExport, writeDynamoExport } from './foreign-fixtures.js';
import { localDynamoEnv, testAdapterOptions } from './helpers.js';

const dynamoUrl = inject('dynamodbUrl');
const dir = mkdtempSync(join(tmpdir(), 'foreign-stores-'));
const quiet = { env: localDynamoEnv, warn: () => {} };

async function readAll(source: Source, collection: string): Promise<Doc[]> {
  const docs: Doc[] = [];
  for await (const chunk of source.read({ collections: new Set([collection]), signal: new AbortController().signal })) docs.push(...(chunk.docs as Doc[]));
  await source.close();
  return sortById(docs);
}

test('a DynamoDB export folder into DynamoDB: every item as the table held it, numbers to the digit', async () => {
  const { items, docs } = dynamoItems();
  const fixture = writeDynamoExport(mkdtempSync(join(dir, 'ddb-')), 'agents', items);
  const prefix = `${uniquePrefix()}_`;
  const to = dynamoUrl.replace(/^http:/, 'dynamodb:');
  const report = await migrate({ from: `file:${fixture.root}`, to, tablePrefix: prefix, ...quiet });
  expect(report.collections.agents).toMatchObject({ read: 3, written: 3, failed: 0 });
  const stored = await readAll(await dynamodbSource({ scheme: 'dynamodb', rest: dynamoUrl.replace(/^http:/, ''), raw: to }, testAdapterOptions({ tablePrefix: prefix })), 'agents');
  expect(stored).toEqual(sortById(docs));
  const check = await verify({ from: `file:${fixture.root}`, to, tablePrefix: prefix, ...quiet });
  expect(check.identical).toBe(true);
});

test('a node-firestore-import-export file into Firestore: tagged values as our Firestore source gives them', async () => {
  const { file, docs } = firestoreExport();
  const path = join(dir, 'firestore-export.json');
  writeFileSync(path, JSON.stringify(file, null, 2));
  const env = { FIRESTORE_EMULATOR_HOST: inject('firestoreHost'), FIRESTORE_PROJECT_ID: `etl-foreign-${uniquePrefix()}` };
  // The emulator cannot list collections: name them, as a user of the emulator does.
  const collections = Object.keys(docs);
  const report = await migrate({ from: `file:${path}`, to: 'firestore', collections, env, warn: () => {} });
  expect(report.ok).toBe(true);
  expect(report.total).toMatchObject({ read: 3, written: 3 });
  for (const collection of collections) {
    const stored = await readAll(await firestoreSource({ scheme: 'firestore', rest: '', raw: 'firestore' }, testAdapterOptions({ env })), collection);
    // The default transform strip-couch-meta drops the `_rev: null` the app left in some bodies.
    expect(stored).toEqual(sortById(docs[collection]!.map((d) => stripCouchMeta({ ...d }))));
  }
});
