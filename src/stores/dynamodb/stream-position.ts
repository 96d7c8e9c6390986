/**
 * Where a follower stands in a table's stream, as plain JSON for checkpoints: per shard, how to
 * go on reading it. A shard the position does not name was born after it was taken and is read
 * from its start (TRIM_HORIZON).
 */
import { usageError } from '../../errors.js';
import type { JsonValue, Position } from '../../types.js';

export type ShardMark =
  /** Records up to and including this sequence number are applied. */
  | { after: string }
  /** Records from this sequence number on: the first record after the head. */
  | { at: string }
  /**
   * Open when the head was taken and nothing read from it since: an iterator at the head
   * (`takenAt`, ms). Iterators expire after 15 minutes; an expired one means reading the shard
   * from its start, which repeats changes from before the head (harmless) and loses none.
   */
  | { latest: string; takenAt: number }
  /** Closed and read to its end (or closed before the head: its changes are in the snapshot). */
  | { done: true };

export interface TableCursor {
  /** The stream's ARN: a position on another stream (disabled and enabled again) is worthless. */
  stream: string;
  shards: Record<string, ShardMark>;
}

/** Per collection, its table's cursor. */
export type StreamCursor = Record<string, TableCursor>;

export function toPosition(cursor: StreamCursor): Position {
  return { tables: structuredClone(cursor) as unknown as { [key: string]: JsonValue } };
}

/** The cursors of these collections from a saved position; a usage error when one is missing. */
export function fromPosition(position: Position, collections: ReadonlySet<string>): StreamCursor {
  const tables = (position.tables ?? {}) as unknown as StreamCursor;
  const cursor: StreamCursor = {};
  for (const collection of collections) {
    const table = tables[collection];
    if (!table || typeof table.stream !== 'string' || typeof table.shards !== 'object') {
      throw usageError(
        'bad-resume',
        `the saved change position has no DynamoDB stream position for collection ${collection} (was it not in the run that took it?): start a new run for it`,
      );
    }
    cursor[collection] = structuredClone(table);
  }
  return cursor;
}
