/**
 * One table's stream read shard by shard: which shards exist (DescribeStream, page by page), which
 * may be read now (a child only once its parent is read to its end, so one item's changes keep
 * their order across a split), and each ready shard's next records (GetShardIterator from the
 * cursor's mark, GetRecords), moving the cursor as runs are handed on.
 */
import type { _Record as StreamRecord, ShardIteratorType } from '@aws-sdk/client-dynamodb-streams';
import { fatalError } from '../../errors.js';
import { withRetry, type RetryPolicy } from '../common/retry.js';
import type { StreamsApi } from './client.js';
import { dynamoFatal, errorName, isTransientDynamoError } from './errors.js';
import type { Held } from './head-keeper.js';
import type { TableCursor } from './stream-position.js';
import { recordRuns, type RecordRun } from './stream-records.js';

export interface ShardInfo {
  id: string;
  parent?: string;
  closed: boolean;
}

export interface StreamShards {
  /** ENABLING, ENABLED, DISABLING, DISABLED. */
  status: string;
  shards: ShardInfo[];
}

export interface StreamContext {
  streams: StreamsApi;
  /** The endpoint or region, for messages. */
  where: string;
  policy: RetryPolicy & { signal: AbortSignal };
  warn: (message: string) => void;
  /** Where the head's LATEST iterator now stands, when this process took the head and kept it (see head-keeper.ts). */
  resolveHead?: (iterator: string) => Promise<Held | undefined>;
}

/** DynamoDB Streams' answer when the data asked for is past its 24 h retention. */
const trimmed = 'TrimmedDataAccessException';

/** The error that ends a follow whose changes cannot all be had any more. */
export function changesLost(table: string, what: string) {
  return fatalError('changes-lost', `DynamoDB table ${table}: ${what}, so changes were lost: a fresh snapshot is needed (run again without --resume)`);
}

/** Every shard of the stream, or undefined when the stream no longer exists. */
export async function describeShards(context: StreamContext, table: string, arn: string): Promise<StreamShards | undefined> {
  const shards: ShardInfo[] = [];
  let status = '';
  let start: string | undefined;
  try {
    do {
      const from = start;
      const { StreamDescription: description } = await withRetry(
        () => context.streams.describeStream({ StreamArn: arn, ExclusiveStartShardId: from }, context.policy.signal),
        isTransientDynamoError,
        context.policy,
      );
      status = description?.StreamStatus ?? '';
      for (const shard of description?.Shards ?? []) {
        shards.push({ id: shard.ShardId!, parent: shard.ParentShardId, closed: shard.SequenceNumberRange?.EndingSequenceNumber !== undefined });
      }
      start = description?.LastEvaluatedShardId;
    } while (start);
  } catch (error) {
    context.policy.signal.throwIfAborted();
    if (errorName(error) === 'ResourceNotFoundException') return undefined;
    throw dynamoFatal(context.where, `describing the stream of table ${table}`, error);
  }
  return { status, shards };
}

/** A shard iterator; a data-lost error when the stream no longer holds that point. */
export async function shardIterator(context: StreamContext, table: string, arn: string, shard: string, type: ShardIteratorType, sequence?: string): Promise<string> {
  try {
    const answer = await withRetry(
      () => context.streams.getShardIterator({ StreamArn: arn, ShardId: shard, ShardIteratorType: type, SequenceNumber: sequence }, context.policy.signal),
      isTransientDynamoError,
      context.policy,
    );
    return answer.ShardIterator!;
  } catch (error) {
    context.policy.signal.throwIfAborted();
    const name = errorName(error);
    if (name === trimmed || name === 'ResourceNotFoundException') throw changesLost(table, `shard ${shard} of its stream no longer holds the changes after the saved position (streams keep them 24 h)`);
    throw dynamoFatal(context.where, `reading the stream of table ${table}`, error);
  }
}

/** Re-list the shards at least this often, for children a split made. */
const refreshMs = 10_000;

/** A run of records of one shard, with the shard it came from. */
export interface ShardRun extends RecordRun {
  shard: string;
}

export class TableStream {
  private listed = new Map<string, ShardInfo>();
  private status = '';
  /** Iterators GetRecords handed back, per shard being read. */
  private readonly iterators = new Map<string, string>();
  /** Shards read again from their start after a refusal as trimmed (see mayRestart). */
  private readonly restarted = new Set<string>();
  private refreshedAt = 0;
  private mustRefresh = true;

  constructor(
    private readonly context: StreamContext,
    readonly table: string,
    /** Moved as runs are handed on: the caller takes its position after each. */
    readonly cursor: TableCursor,
    private readonly label: string,
  ) {}

  /** Reads every ready shard once; yields its pages' runs (stream-records.ts), the cursor already past each page once its last run is handed on. */
  async *poll(): AsyncGenerator<ShardRun> {
    if (this.mustRefresh || Date.now() - this.refreshedAt > refreshMs) await this.refresh();
    for (const shard of this.ready()) yield* this.readShard(shard);
  }

  private async refresh(): Promise<void> {
    const described = await describeShards(this.context, this.table, this.cursor.stream);
    if (!described) throw changesLost(this.table, 'the stream the position was taken on no longer exists');
    this.listed = new Map(described.shards.map((shard) => [shard.id, shard]));
    this.status = described.status;
    for (const [id, mark] of Object.entries(this.cursor.shards)) {
      if (this.listed.has(id)) continue;
      // Past the retention: a shard read to its end is simply forgotten; one that was not is data lost.
      if ('done' in mark) delete this.cursor.shards[id];
      else throw changesLost(this.table, `shard ${id} of its stream was trimmed (streams keep changes 24 h) before its changes were applied`);
    }
    if ((this.status === 'DISABLED' || this.status === 'DISABLING') && this.ready().length === 0) {
      throw changesLost(this.table, 'its stream was disabled while following, and changes after that are not recorded');
    }
    this.refreshedAt = Date.now();
    this.mustRefresh = false;
  }

  private isDone(id: string): boolean {
    const mark = this.cursor.shards[id];
    return mark !== undefined && 'done' in mark;
  }

  /** Shards not read to their end whose parent, if the stream still lists it, is. */
  private ready(): string[] {
    return [...this.listed.values()]
      .filter((shard) => !this.isDone(shard.id) && (shard.parent === undefined || !this.listed.has(shard.parent) || this.isDone(shard.parent)))
      .map((shard) => shard.id);
  }

  private async iteratorOf(shard: string): Promise<string> {
    const held = this.iterators.get(shard);
    if (held) return held;
    const mark = this.cursor.shards[shard];
    const arn = this.cursor.stream;
    if (mark && 'latest' in mark) {
      const kept = await this.context.resolveHead?.(mark.latest);
      if (kept && 'at' in kept) return shardIterator(this.context, this.table, arn, shard, 'AT_SEQUENCE_NUMBER', kept.at);
      return kept?.iterator ?? mark.latest;
    }
    if (mark && 'at' in mark) return shardIterator(this.context, this.table, arn, shard, 'AT_SEQUENCE_NUMBER', mark.at);
    if (mark && 'after' in mark) return shardIterator(this.context, this.table, arn, shard, 'AFTER_SEQUENCE_NUMBER', mark.after);
    return shardIterator(this.context, this.table, arn, shard, 'TRIM_HORIZON');
  }

  private async *readShard(shard: string): AsyncGenerator<ShardRun> {
    const iterator = await this.iteratorOf(shard);
    let answer;
    try {
      answer = await withRetry(() => this.context.streams.getRecords({ ShardIterator: iterator, Limit: 1000 }, this.context.policy.signal), isTransientDynamoError, this.context.policy);
    } catch (error) {
      this.context.policy.signal.throwIfAborted();
      const name = errorName(error);
      if (name === 'ExpiredIteratorException') {
        this.unusable(shard);
        return;
      }
      if (name === trimmed && this.mayRestart(shard)) return;
      if (name === trimmed) throw changesLost(this.table, `shard ${shard} of its stream no longer holds the changes after the saved position (streams keep them 24 h)`);
      throw dynamoFatal(this.context.where, `reading the stream of table ${this.table}`, error);
    }
    const where = (record: StreamRecord) => `${this.label} table ${this.table} stream shard ${shard} sequence ${record.dynamodb?.SequenceNumber ?? '?'}`;
    for (const run of recordRuns(answer.Records ?? [], where)) {
      if (run.lastSequence) this.cursor.shards[shard] = { after: run.lastSequence };
      yield { ...run, shard };
    }
    if (answer.NextShardIterator) {
      this.iterators.set(shard, answer.NextShardIterator);
    } else {
      // Closed and read to its end: its children may start.
      this.iterators.delete(shard);
      this.cursor.shards[shard] = { done: true };
      this.mustRefresh = true;
    }
  }

  /**
   * DynamoDB Local refuses as trimmed every iterator taken while its shard held no record (LATEST,
   * TRIM_HORIZON, or the next one of an empty read) once the shard's first record has a later
   * sequence number, as it does when other tables' writes came between. When nothing of this
   * shard was applied since the head, or since it was born, reading it from its start again loses
   * nothing (the head is younger than the 24 h retention); once per shard, so a real trim of data
   * not yet read still ends the follow.
   */
  private mayRestart(shard: string): boolean {
    const mark = this.cursor.shards[shard];
    if ((mark && !('latest' in mark)) || this.restarted.has(shard)) return false;
    this.restarted.add(shard);
    this.iterators.delete(shard);
    delete this.cursor.shards[shard];
    return true;
  }

  /**
   * Iterators live 15 minutes. A held one is got again from the cursor; the head's one cannot be,
   * so the shard is read from its start: changes from before the head come again (harmless,
   * writes are idempotent), none is lost.
   */
  private unusable(shard: string): void {
    this.iterators.delete(shard);
    const mark = this.cursor.shards[shard];
    if (mark && 'latest' in mark) {
      delete this.cursor.shards[shard];
      this.context.warn(
        `DynamoDB table ${this.table}: the stream position taken before the snapshot can no longer be used (iterators live 15 minutes); reading shard ${shard} from its start, so changes from before the snapshot are applied again`,
      );
    }
  }
}
