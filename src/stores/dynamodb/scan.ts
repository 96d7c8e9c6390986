/**
 * A table read as a stream of Scan pages, in parallel segments when asked, merged into one async
 * iterable. Each segment fetches its next page while the consumer handles the current one, and no
 * more: memory stays at one page per segment whatever the table's size.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { withRetry, type RetryPolicy } from '../common/retry.js';
import type { JsonValue, Shard } from '../../types.js';
import type { DynamoApi } from './client.js';
import { dynamoFatal, isTransientDynamoError } from './errors.js';
import type { Item } from './marshal.js';

/** Where one segment stands, as plain JSON for checkpoints. */
export interface SegmentCursor {
  /** Its `Segment` number of the scan's `TotalSegments`. */
  segment: number;
  /** LastEvaluatedKey of the last page consumed (binary keys as { B64 }); null before the first. */
  lastKey: { [name: string]: JsonValue } | null;
  done: boolean;
}

/** The segments one reader scans, of a parallel scan of `total` segments (1: a plain Scan). */
export interface ScanShare {
  total: number;
  cursors: SegmentCursor[];
}

export interface ScanPage {
  items: Item[];
  /** Every segment's cursor once this page is consumed. */
  cursors: SegmentCursor[];
}

/**
 * Shard `index` of `count` scanning in `segments` parallel segments: segments index*segments ..
 * index*segments+segments-1 of count*segments, so the shards together scan every segment once.
 */
export function shardSegments(segments: number, shard: Shard = { index: 0, count: 1 }): number[] {
  return Array.from({ length: segments }, (_, i) => shard.index * segments + i);
}

export function freshShare(segments: number, shard?: Shard): ScanShare {
  return {
    total: segments * (shard?.count ?? 1),
    cursors: shardSegments(segments, shard).map((segment) => ({ segment, lastKey: null, done: false })),
  };
}

// Keys are S, N or B; B (bytes) is the only one that is not already JSON.
function keyToJson(key: Item): { [name: string]: JsonValue } {
  const out: { [name: string]: JsonValue } = {};
  for (const [name, value] of Object.entries(key)) {
    out[name] = value.B ? { B64: Buffer.from(value.B).toString('base64') } : (value as unknown as { [k: string]: string });
  }
  return out;
}

function keyFromJson(key: { [name: string]: JsonValue }): Item {
  const out: Item = {};
  for (const [name, value] of Object.entries(key)) {
    const v = value as { B64?: string };
    out[name] = v.B64 !== undefined ? { B: Buffer.from(v.B64, 'base64') } : (value as unknown as AttributeValue);
  }
  return out;
}

interface Fetched {
  at: number;
  items: Item[];
  lastKey?: Item;
}

export async function* scanTable(
  api: DynamoApi,
  table: string,
  share: ScanShare,
  pageSize: number | undefined,
  policy: RetryPolicy & { signal: AbortSignal },
): AsyncGenerator<ScanPage> {
  const cursors = share.cursors.map((c) => ({ ...c }));
  const { total } = share;

  // `at` is the cursor's place in this reader's list; its Segment number is the cursor's own.
  const fetchPage = (at: number): Promise<Fetched> => {
    const { segment, lastKey } = cursors[at]!;
    return withRetry(
      () =>
        api.scan(
          {
            TableName: table,
            ...(total > 1 ? { Segment: segment, TotalSegments: total } : {}),
            ...(pageSize ? { Limit: pageSize } : {}),
            ...(lastKey ? { ExclusiveStartKey: keyFromJson(lastKey) } : {}),
          },
          policy.signal,
        ),
      isTransientDynamoError,
      policy,
    ).then(
      (result) => ({ at, items: result.Items ?? [], lastKey: result.LastEvaluatedKey }),
      (error: unknown) => {
        policy.signal.throwIfAborted();
        throw dynamoFatal(api.where, `scanning table ${table}`, error);
      },
    );
  };

  const inFlight = new Map<number, Promise<Fetched>>();
  const launch = (at: number) => {
    const promise = fetchPage(at);
    // Rejections are seen through Promise.race; this only keeps an abandoned one from being unhandled.
    promise.catch(() => {});
    inFlight.set(at, promise);
  };
  cursors.forEach((cursor, at) => cursor.done || launch(at));

  while (inFlight.size > 0) {
    const page = await Promise.race(inFlight.values());
    inFlight.delete(page.at);
    cursors[page.at] = { segment: cursors[page.at]!.segment, lastKey: page.lastKey ? keyToJson(page.lastKey) : null, done: !page.lastKey };
    if (page.lastKey) launch(page.at);
    // An empty page moves no document; its cursor is carried by the next page that does.
    if (page.items.length > 0) yield { items: page.items, cursors: cursors.map((c) => ({ ...c })) };
  }
}
