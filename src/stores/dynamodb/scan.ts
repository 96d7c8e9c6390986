/**
 * A table read as a stream of Scan pages, in parallel segments when asked, merged into one async
 * iterable. Each segment fetches its next page while the consumer handles the current one, and no
 * more: memory stays at one page per segment whatever the table's size.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { withRetry, type RetryPolicy } from '../common/retry.js';
import type { JsonValue } from '../../types.js';
import type { DynamoApi } from './client.js';
import { dynamoFatal, isTransientDynamoError } from './errors.js';
import type { Item } from './marshal.js';

/** Where one segment stands, as plain JSON for checkpoints. */
export interface SegmentCursor {
  /** LastEvaluatedKey of the last page consumed (binary keys as { B64 }); null before the first. */
  lastKey: { [name: string]: JsonValue } | null;
  done: boolean;
}

export interface ScanPage {
  items: Item[];
  /** Every segment's cursor once this page is consumed. */
  cursors: SegmentCursor[];
}

export function freshCursors(segments: number): SegmentCursor[] {
  return Array.from({ length: segments }, () => ({ lastKey: null, done: false }));
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
  segment: number;
  items: Item[];
  lastKey?: Item;
}

export async function* scanTable(
  api: DynamoApi,
  table: string,
  start: SegmentCursor[],
  pageSize: number | undefined,
  policy: RetryPolicy & { signal: AbortSignal },
): AsyncGenerator<ScanPage> {
  const cursors = start.map((c) => ({ ...c }));
  const total = cursors.length;

  const fetchPage = (segment: number): Promise<Fetched> => {
    const lastKey = cursors[segment]!.lastKey;
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
      (result) => ({ segment, items: result.Items ?? [], lastKey: result.LastEvaluatedKey }),
      (error: unknown) => {
        policy.signal.throwIfAborted();
        throw dynamoFatal(api.where, `scanning table ${table}`, error);
      },
    );
  };

  const inFlight = new Map<number, Promise<Fetched>>();
  const launch = (segment: number) => {
    const promise = fetchPage(segment);
    // Rejections are seen through Promise.race; this only keeps an abandoned one from being unhandled.
    promise.catch(() => {});
    inFlight.set(segment, promise);
  };
  cursors.forEach((cursor, segment) => cursor.done || launch(segment));

  while (inFlight.size > 0) {
    const page = await Promise.race(inFlight.values());
    inFlight.delete(page.segment);
    cursors[page.segment] = { lastKey: page.lastKey ? keyToJson(page.lastKey) : null, done: !page.lastKey };
    if (page.lastKey) launch(page.segment);
    // An empty page moves no document; its cursor is carried by the next page that does.
    if (page.items.length > 0) yield { items: page.items, cursors: cursors.map((c) => ({ ...c })) };
  }
}
