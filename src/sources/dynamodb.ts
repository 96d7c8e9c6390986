/**
 * `dynamodb` as a source: the tables the run chooses (an account may hold other applications'
 * tables: see pipeline/collections.ts), each read by Scan page by
 * page in `--segments` parallel segments, numbers kept exact, binary as base64, sets as lists.
 * Shard k of N (`--shard k/N`) scans its own `--segments` of N times as many.
 * `--follow` reads the tables' streams (stores/dynamodb/stream-feed.ts).
 */
import { collectionsToRead } from '../stores/common/collections.js';
import { openDynamoApi, type DynamoApi } from '../stores/dynamodb/client.js';
import { resolveDynamoConfig } from '../stores/dynamodb/config.js';
import { withRetry } from '../stores/common/retry.js';
import { dynamoFatal, isTransientTableCall } from '../stores/dynamodb/errors.js';
import { docFromItem } from '../formats/dynamodb-json.js';
import { freshShare, scanTable, shardSegments, type ScanShare, type SegmentCursor } from '../stores/dynamodb/scan.js';
import { streamFeed } from '../stores/dynamodb/stream-feed.js';
import { describeTable, tableName } from '../stores/dynamodb/tables.js';
import { usageError } from '../errors.js';
import type { AdapterOptions, ParsedUri, Position, Shard, Source, SourceChunk, SourceReadOptions } from '../types.js';

export default async function dynamodbSource(uri: ParsedUri, options: AdapterOptions): Promise<Source> {
  return createSource(await openDynamoApi(resolveDynamoConfig(uri, options), options.warn), options);
}

/** The source on any DynamoApi (a fake in unit tests). */
export function createSource(api: DynamoApi, options: AdapterOptions): Source {
  const { label, tablePrefix: prefix } = api;
  const feed = streamFeed(api, { retries: options.retries, warn: options.warn, enableStream: options.enableStream });
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

  /**
   * Where to start in a collection: the checkpoint's segments when it stopped there (as many as it
   * had, whatever --segments says now), else this shard's fresh ones. A checkpoint of another
   * shard's segments is refused: resumed there, it would scan them twice and its own never.
   */
  function startShare(resumeAt: Position | undefined, shard: Shard | undefined, table: string): ScanShare {
    if (!Array.isArray(resumeAt?.segments)) return freshShare(segments, shard);
    const saved = resumeAt.segments as unknown as Partial<SegmentCursor>[];
    // Checkpoints written before shards name no segment numbers: they scanned 0..n-1 of n.
    const share: ScanShare = {
      total: typeof resumeAt.totalSegments === 'number' ? resumeAt.totalSegments : saved.length,
      cursors: saved.map((cursor, i) => ({ segment: cursor.segment ?? i, lastKey: cursor.lastKey ?? null, done: cursor.done === true })),
    };
    const { index, count } = shard ?? { index: 0, count: 1 };
    const own = share.total % count === 0 ? shardSegments(share.total / count, shard) : [];
    if (share.cursors.map((c) => c.segment).join() !== own.join()) {
      const held = share.cursors.map((c) => c.segment);
      throw usageError(
        'checkpoint-mismatch',
        `the checkpoint scanned segments ${held[0]}..${held.at(-1)} of ${share.total} of table ${table}, which are not shard ${index}/${count}'s: resume each shard with its own index, count and checkpoint`,
      );
    }
    return share;
  }

  async function* read({ shard, collections, resumeFrom, signal }: SourceReadOptions): AsyncIterable<SourceChunk> {
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
      const share = startShare(resumeAt, shard, table);
      const at = (cursors: SegmentCursor[]): Position => ({ collection, totalSegments: share.total, segments: cursors as unknown as Position[] });
      yield { collection, docs: [], position: at(share.cursors) };
      const pages = scanTable(api, table, share, options.batchSize, { retries: options.retries, signal });
      for await (const page of pages) {
        const docs = page.items.map(docFromItem);
        yield {
          collection,
          docs,
          position: at(page.cursors),
          where: (index) => `${label} table ${table} _id ${String(docs[index]?._id)}`,
        };
      }
    }
  }

  return {
    label,
    provider: 'dynamodb',
    shared: true,
    splits: 'parallel scan segments',
    lookedAt: () => `DynamoDB at ${api.lookedAt}${prefix ? `, tables ${prefix}*` : ''}`,
    identity: async () => api.identity,
    listCollections,
    count: async (collection) => (await describeTable(api, tableName(prefix, collection), options.retries))?.ItemCount,
    read,
    feed,
    close: async () => {
      feed.stop();
      api.close();
    },
  };
}
