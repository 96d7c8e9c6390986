/**
 * `dynamodb` as a source: the tables the run chooses (an account may hold other applications'
 * tables: see pipeline/collections.ts), each read by Scan page by
 * page in `--segments` parallel segments, numbers kept exact, binary as base64, sets as lists.
 */
import { collectionsToRead } from '../stores/common/collections.js';
import { openDynamoApi, type DynamoApi } from '../stores/dynamodb/client.js';
import { resolveDynamoConfig } from '../stores/dynamodb/config.js';
import { withRetry } from '../stores/common/retry.js';
import { dynamoFatal, isTransientTableCall } from '../stores/dynamodb/errors.js';
import { docFromItem } from '../formats/dynamodb-json.js';
import { freshCursors, scanTable, type SegmentCursor } from '../stores/dynamodb/scan.js';
import { describeTable, tableName } from '../stores/dynamodb/tables.js';
import type { AdapterOptions, ParsedUri, Position, Source, SourceChunk, SourceReadOptions } from '../types.js';

export default async function dynamodbSource(uri: ParsedUri, options: AdapterOptions): Promise<Source> {
  return createSource(await openDynamoApi(resolveDynamoConfig(uri, options), options.warn), options);
}

/** The source on any DynamoApi (a fake in unit tests). */
export function createSource(api: DynamoApi, options: AdapterOptions): Source {
  const { label, tablePrefix: prefix } = api;
  const segments = Math.max(1, options.segments ?? 1);

  async function listCollections(): Promise<string[]> {
    const names: string[] = [];
    let start: string | undefined;
    do {
      const from = start;
      const page = await withRetry(() => api.listTables({ ExclusiveStartTableName: from }), isTransientTableCall, { retries: options.retries }).catch(
        (error: unknown) => {
          throw dynamoFatal(api.where, 'listing tables', error);
        },
      );
      for (const name of page.TableNames ?? []) if (name.startsWith(prefix) && name.length > prefix.length) names.push(name.slice(prefix.length));
      start = page.LastEvaluatedTableName;
    } while (start);
    return names.sort();
  }

  /** Where to start in a collection: the checkpoint's cursors when it stopped there, else fresh ones. */
  function startCursors(resumeAt: Position | undefined): SegmentCursor[] {
    if (Array.isArray(resumeAt?.segments)) return resumeAt.segments as unknown as SegmentCursor[];
    return freshCursors(segments);
  }

  async function* read({ collections, resumeFrom, signal }: SourceReadOptions): AsyncIterable<SourceChunk> {
    const names = collectionsToRead(await listCollections(), {
      collections,
      resumeFrom,
      missing: (absent) => {
        for (const collection of absent) options.warn(`${label}: no table ${tableName(prefix, collection)} for collection ${collection}; nothing to read`);
      },
    });
    for (const { collection, resumeAt } of names) {
      signal.throwIfAborted();
      const table = tableName(prefix, collection);
      const cursors = startCursors(resumeAt);
      yield { collection, docs: [], position: { collection, segments: cursors as unknown as Position[] } };
      const pages = scanTable(api, table, cursors, options.batchSize, { retries: options.retries, signal });
      for await (const page of pages) {
        const docs = page.items.map(docFromItem);
        yield {
          collection,
          docs,
          position: { collection, segments: page.cursors as unknown as Position[] },
          where: (index) => `${label} table ${table} _id ${String(docs[index]?._id)}`,
        };
      }
    }
  }

  return {
    label,
    provider: 'dynamodb',
    shared: true,
    lookedAt: () => `DynamoDB at ${api.lookedAt}${prefix ? `, tables ${prefix}*` : ''}`,
    identity: async () => api.identity,
    listCollections,
    count: async (collection) => (await describeTable(api, tableName(prefix, collection), options.retries))?.ItemCount,
    read,
    close: async () => api.close(),
  };
}
