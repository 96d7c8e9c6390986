/**
 * The headline use, end to end: `--from file:backup.json --to dynamodb`, then back to a file; the
 * corpus (unicode, nesting, empty strings/maps/lists, nulls, booleans, integers beyond 2^53) must
 * come out exactly as it went in.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, inject, test } from 'vitest';
import { parseJson } from '../src/formats/parse.js';
import { stringifyExact } from '../src/formats/serialize.js';
import { migrate } from '../src/pipeline.js';
import dynamodbSource from '../src/sources/dynamodb.js';
import type { Doc } from '../src/types.js';
import { corpus, sortById, uniquePrefix } from './corpus.js';
import { localDynamoEnv, testAdapterOptions } from './helpers.js';

const endpoint = inject('dynamodbUrl').replace(/^http:/, 'dynamodb:');
const dir = await mkdtemp(join(tmpdir(), 'dynamodb-roundtrip-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

async function writeCorpusFile(): Promise<{ path: string; data: Record<string, Doc[]> }> {
  const data = corpus();
  const path = join(dir, `${uniquePrefix()}.json`);
  const metadata = { provider: 'memory', exported_at: '2026-01-11T10:00:00Z', collections: Object.keys(data) };
  await writeFile(path, stringifyExact({ metadata, data }, 2));
  return { path, data };
}

async function importFile(path: string, data: Record<string, Doc[]>, prefix: string): Promise<void> {
  const imported = await migrate({ from: `file:${path}`, to: endpoint, tablePrefix: prefix, env: localDynamoEnv, warn: () => {} });
  for (const [name, docs] of Object.entries(data)) {
    expect(imported.collections[name]).toMatchObject({ read: docs.length, written: docs.length, failed: 0 });
  }
}

test('file -> DynamoDB stores the corpus exactly', async () => {
  const { path, data } = await writeCorpusFile();
  const prefix = `${uniquePrefix()}_`;
  await importFile(path, data, prefix);
  const source = await dynamodbSource({ scheme: 'dynamodb', rest: endpoint.slice('dynamodb:'.length), raw: endpoint }, testAdapterOptions({ tablePrefix: prefix }));
  const read: Record<string, Doc[]> = {};
  for await (const chunk of source.read({ signal: new AbortController().signal })) (read[chunk.collection] ??= []).push(...(chunk.docs as Doc[]));
  await source.close();
  for (const [name, docs] of Object.entries(data)) expect(sortById(read[name]!)).toEqual(sortById(docs));
});

test('file -> DynamoDB -> file is exact for the corpus', async () => {
  const { path, data } = await writeCorpusFile();
  const prefix = `${uniquePrefix()}_`;
  const output = join(dir, `${prefix}back.json`);
  await importFile(path, data, prefix);
  const exported = await migrate({ from: endpoint, to: `file:${output}`, tablePrefix: prefix, env: localDynamoEnv, warn: () => {} });
  expect(exported.total.failed).toBe(0);
  const back = parseJson(await readFile(output, 'utf8')) as { data: Record<string, Doc[]> };
  expect(Object.keys(back.data).sort()).toEqual(Object.keys(data).sort());
  for (const [name, docs] of Object.entries(data)) expect(sortById(back.data[name]!)).toEqual(sortById(docs));
});
