/**
 * A DynamoDB source's change feed (`--follow`): each chosen table's stream. The head, taken before
 * the scan, holds per open shard a LATEST iterator, so every change made during the scan comes
 * after it; `changes` then polls every table's ready shards in turn and hands on their records,
 * puts and deletes in stream order, the position after each run being per shard the last sequence
 * number applied.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChangeFeed, Position, SourceChunk } from '../../types.js';
import type { DynamoApi } from './client.js';
import { dynamoFatal } from './errors.js';
import { HeadKeeper, readHead } from './head-keeper.js';
import { fromPosition, toPosition, type StreamCursor, type TableCursor } from './stream-position.js';
import { changesLost, describeShards, shardIterator, TableStream, type StreamContext } from './stream-shards.js';
import { tableStreams } from './stream-table.js';
import { describeTable, tableName } from './tables.js';

export interface FeedOptions {
  retries: number;
  warn: (message: string) => void;
  /** `--enable-stream`: turn on the stream of a table that has none. */
  enableStream?: boolean;
  /** Wait between rounds that found nothing (DynamoDB allows 5 GetRecords a second per shard). */
  idleMs?: number;
  /**
   * How long the feed must find nothing before it says it is caught up: a record shows up in the
   * stream a moment after its write, so one quiet round right after the app's last write would
   * end `--until-caught-up` before that write came.
   */
  settleMs?: number;
}

/** The feed, and what its source's close must stop. */
export interface StreamFeed extends ChangeFeed {
  /** Keeps the head's iterators fresh while the snapshot runs (exposed for tests). */
  readonly keeper: HeadKeeper;
  stop(): void;
}

const defaultIdleMs = 250;
/** DynamoDB Streams allow 5 GetRecords a second per shard: a busy shard is read at most that often. */
const minRoundMs = 200;
const defaultSettleMs = 1000;
const enablingPollMs = 500;

export function streamFeed(api: DynamoApi, options: FeedOptions): StreamFeed {
  const idleMs = options.idleMs ?? defaultIdleMs;
  const settleMs = options.settleMs ?? defaultSettleMs;
  const keeper = new HeadKeeper(() => api.streams());
  const contextFor = async (signal: AbortSignal): Promise<StreamContext> => ({
    streams: await api.streams(),
    where: api.where,
    policy: { retries: options.retries, signal },
    warn: options.warn,
    resolveHead: (iterator) => keeper.resolve(iterator),
  });

  /** The table's shards once its stream is ENABLED (a stream just turned on is ENABLING for a while), every one marked. */
  async function tableHead(context: StreamContext, table: string, stream: string): Promise<TableCursor> {
    const signal = context.policy.signal;
    for (;;) {
      const described = await describeShards(context, table, stream);
      if (!described) throw changesLost(table, 'its stream vanished while the run started');
      if (described.status !== 'ENABLING') {
        const shards: TableCursor['shards'] = {};
        for (const shard of described.shards) {
          // A closed shard's changes are all older than the scan that follows.
          if (shard.closed) {
            shards[shard.id] = { done: true };
            continue;
          }
          const read = await readHead(context.streams, await shardIterator(context, table, stream, shard.id, 'LATEST'), context.policy).catch((error: unknown) => {
            signal.throwIfAborted();
            throw dynamoFatal(api.where, `reading the stream of table ${table}`, error);
          });
          if ('ended' in read) shards[shard.id] = { done: true };
          else if ('at' in read) shards[shard.id] = { at: read.at };
          else if ('iterator' in read) {
            keeper.keep(read.iterator);
            shards[shard.id] = { latest: read.iterator, takenAt: Date.now() };
          }
          // Unusable: no mark, so the shard is read from its start (changes before the head again, none lost).
        }
        return { stream, shards };
      }
      await sleep(enablingPollMs, undefined, { signal });
    }
  }

  /** A position on a stream the table no longer has (disabled and enabled again, table re-created) is worthless. */
  async function checkSameStream(collection: string, cursor: TableCursor): Promise<string> {
    const table = tableName(api.tablePrefix, collection);
    const description = await describeTable(api, table, options.retries);
    if (!description) throw changesLost(table, 'the table no longer exists');
    if (description.LatestStreamArn !== cursor.stream) throw changesLost(table, 'its stream is not the one the position was taken on (it was disabled, or the table re-created)');
    return table;
  }

  async function* changes({ collections, from, signal }: { collections: ReadonlySet<string>; from: Position; signal: AbortSignal }): AsyncIterable<SourceChunk> {
    const cursor: StreamCursor = fromPosition(from, collections);
    keeper.stop();
    try {
      const context = await contextFor(signal);
      const tables: { collection: string; stream: TableStream }[] = [];
      for (const collection of Object.keys(cursor).sort()) {
        const table = await checkSameStream(collection, cursor[collection]!);
        tables.push({ collection, stream: new TableStream(context, table, cursor[collection]!, api.label) });
      }
      if (tables.length === 0) return;
      // Said once per stretch of quiet, so `--until-caught-up` can end and progress shows lag 0.
      let quietSince: number | undefined;
      let quietSaid = false;
      for (;;) {
        const roundStart = Date.now();
        let moved = false;
        for (const { collection, stream } of tables) {
          for await (const run of stream.poll()) {
            // Stopped: what was fetched and not handed on is read again by a resume.
            if (signal.aborted) return;
            moved = true;
            yield {
              collection,
              docs: run.docs,
              ...(run.deletes ? { deletes: run.deletes } : {}),
              ...(run.refused ? { refused: run.refused } : {}),
              position: toPosition(cursor),
              where: (index) => run.docWhere[index] ?? `${api.label} table ${stream.table}`,
              ...(run.lastChangeAt === undefined ? {} : { lag: { seconds: Math.max(0, Math.round((Date.now() - run.lastChangeAt) / 1000)) } }),
            };
          }
        }
        if (moved) {
          quietSince = undefined;
          quietSaid = false;
          const rest = minRoundMs - (Date.now() - roundStart);
          if (rest > 0) await sleep(rest, undefined, { signal });
          continue;
        }
        quietSince ??= Date.now();
        if (!quietSaid && Date.now() - quietSince >= settleMs) {
          quietSaid = true;
          yield { collection: tables[0]!.collection, docs: [], position: toPosition(cursor), lag: { changes: 0, seconds: 0 }, caughtUp: true };
        }
        await sleep(idleMs, undefined, { signal });
      }
    } catch (error) {
      // Stopping is how a follow ends: the changes handed on so far stand, the rest waits for --resume.
      if (signal.aborted) return;
      throw error;
    }
  }

  return {
    async head(collections, signal) {
      const context = await contextFor(signal);
      const tables = collections.map((collection) => ({ collection, table: tableName(api.tablePrefix, collection) }));
      const streams = await tableStreams(api, tables, { enable: options.enableStream ?? false, retries: options.retries, warn: options.warn, signal });
      const cursor: StreamCursor = {};
      for (const [i, { collection, table }] of tables.entries()) cursor[collection] = await tableHead(context, table, streams[i]!);
      return toPosition(cursor);
    },
    changes,
    keeper,
    stop: () => keeper.stop(),
  };
}
