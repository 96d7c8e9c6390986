/**
 * `dynamodb` as a target: Gofannon's layout (a table per collection, hash key `_id`), 25 puts per
 * BatchWriteItem, several calls in flight, exact numbers, and per-document answers: what DynamoDB
 * cannot hold is caught by check(), what stays unprocessed after the retry budget is failed.
 * Deletes (from a change feed) go the same way, 25 DeleteRequests a call.
 */
import pLimit from 'p-limit';
import { batchDelete, batchPut, maxBatchItems } from '../stores/dynamodb/batch-write.js';
import { openDynamoApi, type DynamoApi } from '../stores/dynamodb/client.js';
import { resolveDynamoConfig } from '../stores/dynamodb/config.js';
import { scanIds } from '../stores/dynamodb/ids.js';
import { conditionalPuts } from '../stores/dynamodb/conditional-put.js';
import { itemProblem } from '../stores/dynamodb/item-check.js';
import { checkKeySchema, describeTable, ensureTable, tableName, tableProblems } from '../stores/dynamodb/tables.js';
import type { AdapterOptions, Doc, ParsedUri, Sink, WriteOutcome } from '../types.js';

const defaultConcurrency = 16;

export default async function dynamodbSink(uri: ParsedUri, options: AdapterOptions): Promise<Sink> {
  return createSink(await openDynamoApi(resolveDynamoConfig(uri, options), options.warn), options);
}

/** The sink on any DynamoApi (a fake in unit tests). */
export function createSink(api: DynamoApi, options: AdapterOptions): Sink {
  const concurrency = Math.max(1, options.concurrency ?? defaultConcurrency);
  // Conditional puts are one document per call: as many calls in flight as batched writes would make.
  const conditionalLimit = pLimit(concurrency * 4);
  const prepared = new Map<string, Promise<void>>();
  const tableOf = (collection: string) => tableName(api.tablePrefix, collection);

  return {
    label: api.label,
    provider: 'dynamodb',
    batchSize: Math.min(options.batchSize ?? maxBatchItems, maxBatchItems),
    concurrency,
    identity: async () => api.identity,
    preflight: (collections) => tableProblems(api, collections, options.retries),
    async prepare(collection) {
      let done = prepared.get(collection);
      if (!done) prepared.set(collection, (done = ensureTable(api, tableOf(collection), options.retries)));
      return done;
    },
    async wouldCreate(collection) {
      const table = tableOf(collection);
      const existing = await describeTable(api, table, options.retries);
      if (existing) {
        checkKeySchema(existing, table, api.where);
        return undefined;
      }
      return `DynamoDB table ${table} (hash key _id, string; on-demand billing)`;
    },
    check: (doc: Doc) => itemProblem(doc),
    async write(collection, docs, signal): Promise<WriteOutcome[]> {
      const policy = { retries: options.retries, signal };
      const table = tableOf(collection);
      if (options.onConflict === 'overwrite') return batchPut(api, table, docs, policy);
      return conditionalPuts(api, table, docs, options.onConflict, conditionalLimit, policy);
    },
    ids: (collection, signal) => scanIds(api, tableOf(collection), { retries: options.retries, signal }),
    async remove(collection, ids, signal): Promise<WriteOutcome[]> {
      return batchDelete(api, tableOf(collection), ids, { retries: options.retries, signal });
    },
    close: async () => api.close(),
  };
}
