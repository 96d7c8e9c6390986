/**
 * BatchWriteItem with DynamoDB's rules handled: at most 25 puts or deletes a call, no two requests
 * for one key in a call, `UnprocessedItems` retried (only those: a partial success is never
 * repeated) under our retry policy, and an item DynamoDB refuses found by splitting so it alone fails.
 */
import type { WriteRequest } from '@aws-sdk/client-dynamodb';
import { writeIsolating } from '../common/isolate.js';
import { RetryableError, withRetry, type RetryPolicy } from '../common/retry.js';
import type { Doc, WriteOutcome } from '../../types.js';
import type { DynamoApi } from './client.js';
import { describeError, dynamoFatal, isTransientDynamoError, isValidationError } from './errors.js';
import { toItem } from './marshal.js';

/** DynamoDB's hard limit of requests per BatchWriteItem call. */
export const maxBatchItems = 25;

export interface WritePolicy extends Omit<RetryPolicy, 'signal'> {
  signal: AbortSignal;
}

interface Pending {
  index: number;
  id: string;
  request: WriteRequest;
}

/** What a refusal names: `DynamoDB refused the item` (a put) or `the delete`. */
type Action = 'item' | 'delete';

/**
 * Keeps the last request of each `_id`, as sequential calls would leave it; the earlier ones share
 * its outcome (they were superseded, not lost). Returns the survivors' indexes and, per index, the
 * index whose outcome it takes.
 */
export function lastOfEachId(ids: string[]): { survivors: number[]; outcomeOf: number[] } {
  const last = new Map<string, number>();
  ids.forEach((id, index) => last.set(id, index));
  const outcomeOf = ids.map((id) => last.get(id)!);
  return { survivors: [...last.values()].sort((a, b) => a - b), outcomeOf };
}

export function batchPut(api: DynamoApi, table: string, docs: Doc[], policy: WritePolicy): Promise<WriteOutcome[]> {
  return batchWrite(api, table, docs.map((doc) => doc._id as string), (index) => ({ PutRequest: { Item: toItem(docs[index]!) } }), 'item', policy);
}

/** Deletes by `_id`; DynamoDB answers a delete of an absent item as done, which is what we want. */
export function batchDelete(api: DynamoApi, table: string, ids: string[], policy: WritePolicy): Promise<WriteOutcome[]> {
  return batchWrite(api, table, ids, (index) => ({ DeleteRequest: { Key: { _id: { S: ids[index]! } } } }), 'delete', policy);
}

async function batchWrite(
  api: DynamoApi,
  table: string,
  ids: string[],
  requestOf: (index: number) => WriteRequest,
  action: Action,
  policy: WritePolicy,
): Promise<WriteOutcome[]> {
  const { survivors, outcomeOf } = lastOfEachId(ids);
  const outcomes: WriteOutcome[] = new Array(ids.length);
  const groups: Pending[][] = [];
  for (let i = 0; i < survivors.length; i += maxBatchItems) {
    groups.push(survivors.slice(i, i + maxBatchItems).map((index) => ({ index, id: ids[index]!, request: requestOf(index) })));
  }
  await Promise.all(groups.map((group) => writeGroup(api, table, group, outcomes, action, policy)));
  return outcomeOf.map((index) => outcomes[index]!);
}

/** One group of at most 25; a group DynamoDB refuses as a whole is halved until the item at fault fails alone. */
function writeGroup(api: DynamoApi, table: string, group: Pending[], outcomes: WriteOutcome[], action: Action, policy: WritePolicy): Promise<void> {
  return writeIsolating(
    group,
    (part) => writeWithRetry(api, table, part, outcomes, policy),
    (error) => !policy.signal.aborted && isValidationError(error),
    (item, error) => (outcomes[item.index] = { status: 'failed', reason: `DynamoDB refused the ${action}: ${describeError(error)}` }),
  );
}

const requestId = (request: WriteRequest) => request.PutRequest?.Item?._id?.S ?? request.DeleteRequest?.Key?._id?.S;

/** Sends the requests, retrying throttling and what DynamoDB hands back unprocessed; a refusal is thrown. */
async function writeWithRetry(api: DynamoApi, table: string, group: Pending[], outcomes: WriteOutcome[], policy: WritePolicy): Promise<void> {
  let pending = group;
  let attempts = 0;
  try {
    await withRetry(
      async (attempt) => {
        attempts = attempt;
        const result = await api.batchWrite({ RequestItems: { [table]: pending.map((p) => p.request) } }, policy.signal);
        const left = new Set((result.UnprocessedItems?.[table] ?? []).map(requestId));
        for (const p of pending) if (!left.has(p.id)) outcomes[p.index] = { status: 'written' };
        pending = pending.filter((p) => left.has(p.id));
        if (pending.length > 0) throw new RetryableError(`${pending.length} items left unprocessed (throttled)`);
      },
      isTransientDynamoError,
      policy,
    );
  } catch (error) {
    policy.signal.throwIfAborted();
    if (isValidationError(error)) throw error;
    if (!isTransientDynamoError(error)) throw dynamoFatal(api.where, `writing to table ${table}`, error);
    const reason = `unprocessed after ${attempts} attempts: ${describeError(error)}`;
    for (const p of pending) outcomes[p.index] = { status: 'failed', reason };
  }
}
