/**
 * file -> DynamoDB Local throughput, next to two baselines measured in the same run on the same
 * server: the raw-client ceiling (BatchWriteItem, 25 a call, 16 in flight, items prebuilt in
 * memory) and the seed's way (one PutItem at a time, as import.py's save loop does).
 * Targets: ours >= 85% of the ceiling, >= 10x the seed's way. Each variant writes fresh tables.
 */
import { BatchWriteItemCommand, CreateTableCommand, DynamoDBClient, PutItemCommand, waitUntilTableExists, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { toItem, type Item } from '../src/stores/dynamodb/marshal.js';
import { migrate } from '../src/pipeline.js';
import type { Doc } from '../src/types.js';
import { startDynamoLocal } from '../test/servers/dynamodb-local.js';
import { median, mixedDocs, writeExport } from './fixtures.js';

const docCount = 30_000;
const seedCount = 2_000;
const inFlight = 16;
/** Ceiling and ours alternate which goes first, so the server's drift (JIT, a growing in-memory store, other load) hits both alike. */
const rounds = Number(process.env.BENCH_ROUNDS ?? 4);

async function createTable(client: DynamoDBClient, name: string): Promise<void> {
  await client.send(new CreateTableCommand({
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST',
    KeySchema: [{ AttributeName: '_id', KeyType: 'HASH' }],
    AttributeDefinitions: [{ AttributeName: '_id', AttributeType: 'S' }],
  }));
  await waitUntilTableExists({ client, maxWaitTime: 60 }, { TableName: name });
}

/** The ceiling: items already marshalled, 25 a call, 16 calls in flight, unprocessed items resent. */
async function rawBatchWrite(client: DynamoDBClient, table: string, items: Item[]): Promise<number> {
  await createTable(client, table);
  const limit = pLimit(inFlight);
  const started = performance.now();
  const calls: Promise<void>[] = [];
  for (let i = 0; i < items.length; i += 25) {
    let requests: WriteRequest[] = items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } }));
    calls.push(limit(async () => {
      while (requests.length) {
        const out = await client.send(new BatchWriteItemCommand({ RequestItems: { [table]: requests } }));
        requests = out.UnprocessedItems?.[table] ?? [];
      }
    }));
  }
  await Promise.all(calls);
  return items.length / ((performance.now() - started) / 1000);
}

/** The seed's way: one PutItem at a time. */
async function onePutAtATime(client: DynamoDBClient, table: string, items: Item[]): Promise<number> {
  await createTable(client, table);
  const started = performance.now();
  for (const Item of items) await client.send(new PutItemCommand({ TableName: table, Item }));
  return items.length / ((performance.now() - started) / 1000);
}

const rate = (n: number) => `${Math.round(n).toLocaleString('en-US')} items/s`;

export default async function bench(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const server = await startDynamoLocal();
  const dir = await mkdtemp(join(tmpdir(), 'bench-dynamodb-'));
  const client = new DynamoDBClient({ endpoint: server.url, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  try {
    const docs = mixedDocs(docCount) as Doc[];
    const items = docs.map(toItem);
    const file = join(dir, 'export.json');
    await writeExport(file, { bench: docs });

    // DynamoDB Local is a JVM: its first tens of thousands of writes run slower while it compiles.
    await rawBatchWrite(client, 'warmup', items);

    const ceilings: number[] = [];
    const ourRates: number[] = [];
    const seed = await onePutAtATime(client, 'seed_0', items.slice(0, seedCount));
    const measureOurs = async (round: number) => {
      const started = performance.now();
      const report = await migrate({ from: `file:${file}`, to: `dynamodb:${server.url.replace(/^http:/, '')}`, tablePrefix: `ours_${round}_`, env: { DYNAMODB_REGION: 'us-east-1' } });
      const written = report.collections.bench?.written ?? 0;
      if (written !== docCount) throw new Error(`ours wrote ${written} of ${docCount}`);
      ourRates.push(written / ((performance.now() - started) / 1000));
    };
    for (let round = 0; round < rounds; round++) {
      if (round % 2 === 0) ceilings.push(await rawBatchWrite(client, `ceiling_${round}`, items)), await measureOurs(round);
      else await measureOurs(round), ceilings.push(await rawBatchWrite(client, `ceiling_${round}`, items));
    }
    const ceiling = median(ceilings);
    const ours = median(ourRates);

    console.log(`documents: ${docCount.toLocaleString('en-US')} per run, median of ${rounds} runs each (seed's way: ${seedCount.toLocaleString('en-US')})`);
    console.log(`raw ceiling (BatchWriteItem 25/call, ${inFlight} in flight, prebuilt): ${rate(ceiling)}  [${ceilings.map(rate).join(', ')}]`);
    console.log(`seed's way (one PutItem at a time):                        ${rate(seed)}`);
    console.log(`ours (file -> dynamodb, migrate):                          ${rate(ours)}  [${ourRates.map(rate).join(', ')}]`);
    console.log(`ours / ceiling: ${((ours / ceiling) * 100).toFixed(0)}% (target >= 85%)   ours / seed: ${(ours / seed).toFixed(1)}x (target >= 10x; the ceiling itself is ${(ceiling / seed).toFixed(1)}x)`);
  } finally {
    client.destroy();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
