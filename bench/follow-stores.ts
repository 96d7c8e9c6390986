/**
 * The two stores of the follow benchmark, as its writer and its probe use them: raw clients of the
 * local servers (never our adapters, so what is measured is the tool, not its own help), one
 * collection each, documents that carry the `seq` of the change that wrote them.
 */
import { BatchWriteItemCommand, DeleteItemCommand, DeleteTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand, ScanCommand, waitUntilTableExists, type WriteRequest } from '@aws-sdk/client-dynamodb';
import pLimit from 'p-limit';
import { toItem } from '../src/stores/dynamodb/marshal.js';
import type { Doc } from '../src/types.js';
import { createStreamTable } from '../test/servers/dynamodb-local.js';

export interface BenchStore {
  readonly name: 'couchdb' | 'dynamodb';
  /** The URI the CLI takes. */
  readonly uri: string;
  /** A fresh collection holding `docs`, ready to be followed (a DynamoDB table with a stream). */
  seed(collection: string, docs: Doc[]): Promise<void>;
  /** Removes the collection, so the next run writes into a fresh one. */
  drop(collection: string): Promise<void>;
  /** Creates or replaces one document. */
  put(collection: string, doc: Doc): Promise<void>;
  remove(collection: string, id: string): Promise<void>;
  /** The `seq` of the document as the store holds it now; undefined when it holds none. */
  seqOf(collection: string, id: string): Promise<number | undefined>;
  count(collection: string): Promise<number>;
  close(): void;
}

const seedInFlight = 16;

export function couchStore(url: string): BenchStore {
  // The source's current revisions: an update or delete names the one it replaces.
  const revs = new Map<string, string>();
  const call = async (method: string, path: string, body?: unknown, ok: number[] = []): Promise<Record<string, unknown>> => {
    const response = await fetch(`${url}/${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const answer = (await response.json()) as Record<string, unknown>;
    if (!response.ok && !ok.includes(response.status)) throw new Error(`${method} /${path}: ${response.status} ${JSON.stringify(answer)}`);
    return answer;
  };
  return {
    name: 'couchdb',
    uri: url.replace(/^http:/, 'couchdb:'),
    async seed(collection, docs) {
      await call('DELETE', collection, undefined, [404]);
      await call('PUT', collection);
      const limit = pLimit(4);
      const batches: Doc[][] = [];
      for (let i = 0; i < docs.length; i += 500) batches.push(docs.slice(i, i + 500));
      await Promise.all(batches.map((batch) => limit(async () => {
        const answer = (await call('POST', `${collection}/_bulk_docs`, { docs: batch })) as unknown as { id: string; rev: string }[];
        for (const { id, rev } of answer) revs.set(id, rev);
      })));
    },
    async drop(collection) {
      await call('DELETE', collection, undefined, [404]);
    },
    async put(collection, doc) {
      const id = doc._id as string;
      const rev = revs.get(id);
      const answer = await call('PUT', `${collection}/${encodeURIComponent(id)}`, rev ? { ...doc, _rev: rev } : doc);
      revs.set(id, answer.rev as string);
    },
    async remove(collection, id) {
      await call('DELETE', `${collection}/${encodeURIComponent(id)}?rev=${revs.get(id)}`);
      revs.delete(id);
    },
    async seqOf(collection, id) {
      const answer = await call('GET', `${collection}/${encodeURIComponent(id)}`, undefined, [404]);
      return typeof answer.seq === 'number' ? answer.seq : undefined;
    },
    async count(collection) {
      const answer = await call('GET', collection, undefined, [404]);
      return typeof answer.doc_count === 'number' ? answer.doc_count : 0;
    },
    close() {},
  };
}

export function dynamoStore(url: string): BenchStore {
  const client = new DynamoDBClient({ endpoint: url, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const missing = (error: unknown) => (error as Error).name === 'ResourceNotFoundException';
  const drop = async (table: string) => {
    await client.send(new DeleteTableCommand({ TableName: table })).catch((error) => {
      if (!missing(error)) throw error;
    });
  };
  return {
    name: 'dynamodb',
    uri: url.replace(/^http:/, 'dynamodb:'),
    async seed(table, docs) {
      await drop(table);
      // What --follow needs of a DynamoDB source (--enable-stream would turn it on).
      await createStreamTable(client, table, 'NEW_AND_OLD_IMAGES');
      await waitUntilTableExists({ client, maxWaitTime: 60 }, { TableName: table });
      const limit = pLimit(seedInFlight);
      const calls: Promise<void>[] = [];
      for (let i = 0; i < docs.length; i += 25) {
        let requests: WriteRequest[] = docs.slice(i, i + 25).map((doc) => ({ PutRequest: { Item: toItem(doc) } }));
        calls.push(limit(async () => {
          while (requests.length) requests = (await client.send(new BatchWriteItemCommand({ RequestItems: { [table]: requests } }))).UnprocessedItems?.[table] ?? [];
        }));
      }
      await Promise.all(calls);
    },
    drop,
    async put(table, doc) {
      await client.send(new PutItemCommand({ TableName: table, Item: toItem(doc) }));
    },
    async remove(table, id) {
      await client.send(new DeleteItemCommand({ TableName: table, Key: { _id: { S: id } } }));
    },
    async seqOf(table, id) {
      try {
        const { Item } = await client.send(new GetItemCommand({ TableName: table, Key: { _id: { S: id } }, ConsistentRead: true, ProjectionExpression: 'seq' }));
        return Item?.seq?.N === undefined ? undefined : Number(Item.seq.N);
      } catch (error) {
        if (missing(error)) return undefined;
        throw error;
      }
    },
    async count(table) {
      let total = 0;
      let start: Record<string, never> | undefined;
      try {
        do {
          const page = await client.send(new ScanCommand({ TableName: table, Select: 'COUNT', ExclusiveStartKey: start }));
          total += page.Count ?? 0;
          start = page.LastEvaluatedKey as typeof start;
        } while (start);
      } catch (error) {
        if (missing(error)) return 0;
        throw error;
      }
      return total;
    },
    close: () => client.destroy(),
  };
}
