/**
 * BatchWriteItem with DynamoDB's rules handled: at most 25 puts a call, no two puts of one key in a
 * call, `UnprocessedItems` retried (only those: a partial success is never repeated) under our
 * retry policy, and an item DynamoDB refuses found by splitting so it alone fails.
 */
import type { WriteRequest } from '@aws-sdk/client-dynamodb';
import { writeIsolating } from '../common/isolate.js';
import { RetryableError, withRetry, type RetryPolicy } from '../common/retry.js';
import type { Doc, WriteOutcome } from '../../types.js';
import type { DynamoApi } from './client.js';
import { describeError, dynamoFatal, isTransientDynamoError, isValidationError } from './errors.js';
import { toItem, type Item } from './marshal.js';

/** DynamoDB's hard limit of requests per BatchWriteItem call. */
export const maxBatchItems = 25;

export interface WritePolicy extends Omit<RetryPolicy, 'signal'> {
  signal: AbortSignal;
}

interface Pending {
  index: number;
  id: string;
  item: Item;
}

/**
 * Keeps the last document of each `_id`, as sequential puts would leave it; the earlier ones share
 * its outcome (they were superseded, not lost). Returns the survivors' indexes and, per index, the
 * index whose outcome it takes.
 */
export function lastOfEachId(docs: Doc[]): { survivors: number[]; outcomeOf: number[] } {
  const last = new Map<string, number>();
  docs.forEach((doc, index) => last.set(doc._id as string, index));
  const outcomeOf = docs.map((doc) => last.get(doc._id as string)!);
  return { survivors: [...last.values()].sort((a, b) => a - b), outcomeOf };
}

export async function batchPut(api: DynamoApi, table: string, docs: Doc[], policy: WritePolicy): Promise<WriteOutcome[]> {
  const { survivors, outcomeOf } = lastOfEachId(docs);
  const outcomes: WriteOutcome[] = new Array(docs.length);
  const groups: Pending[][] = [];
  for (let i = 0; i < survivors.length; i += maxBatchItems) {
    groups.push(survivors.slice(i, i + maxBatchItems).map((index) => ({ index, id: docs[index]!._id as string, item: toItem(docs[index]!) })));
  }
  await Promise.all(groups.map((group) => putGroup(api, table, group, outcomes, policy)));
  return outcomeOf.map((index) => outcomes[index]!);
}

/** One group of at most 25; a group DynamoDB refuses as a whole is halved until the item at fault fails alone. */
function putGroup(api: DynamoApi, table: string, group: Pending[], outcomes: WriteOutcome[], policy: WritePolicy): Promise<void> {
  return writeIsolating(
    group,
    (part) => putWithRetry(api, table, part, outcomes, policy),
    (error) => !policy.signal.aborted && isValidationError(error),
    (item, error) => (outcomes[item.index] = { status: 'failed', reason: `DynamoDB refused the item: ${describeError(error)}` }),
  );
}

/** Puts the items, retrying throttling and what DynamoDB hands back unprocessed; a refusal is thrown. */
async function putWithRetry(api: DynamoApi, table: string, group: Pending[], outcomes: WriteOutcome[], policy: WritePolicy): Promise<void> {
  let pending = group;
  let attempts = 0;
  try {
    await withRetry(
      async (attempt) => {
        attempts = attempt;
        const requests: WriteRequest[] = pending.map((p) => ({ PutRequest: { Item: p.item } }));
        const result = await api.batchWrite({ RequestItems: { [table]: requests } }, policy.signal);
        const left = new Set((result.UnprocessedItems?.[table] ?? []).map((r) => r.PutRequest?.Item?._id?.S));
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
