/**
 * `--on-conflict skip|fail`: each document is a PutItem that only succeeds when no item has its
 * `_id` (BatchWriteItem has no conditions). Chosen over TransactWriteItems, which cancels all 25
 * for one conflict and costs twice the capacity: here every document gets its own answer in one
 * call. Documents sharing an `_id` run one after another, so they behave like sequential puts.
 */
import type { LimitFunction } from 'p-limit';
import { conflictOutcome } from '../common/conflict.js';
import { withRetry } from '../common/retry.js';
import type { Doc, OnConflict, WriteOutcome } from '../../types.js';
import type { WritePolicy } from './batch-write.js';
import type { DynamoApi } from './client.js';
import { describeError, dynamoFatal, errorName, isTransientDynamoError, isValidationError } from './errors.js';
import { toItem } from './marshal.js';

async function putIfAbsent(api: DynamoApi, table: string, doc: Doc, onConflict: Exclude<OnConflict, 'overwrite'>, policy: WritePolicy): Promise<WriteOutcome> {
  let attempts = 0;
  try {
    await withRetry(
      async (attempt) => {
        attempts = attempt;
        await api.putItem(
          { TableName: table, Item: toItem(doc), ConditionExpression: 'attribute_not_exists(#id)', ExpressionAttributeNames: { '#id': '_id' } },
          policy.signal,
        );
      },
      isTransientDynamoError,
      policy,
    );
    return { status: 'written' };
  } catch (error) {
    policy.signal.throwIfAborted();
    if (errorName(error) === 'ConditionalCheckFailedException') return conflictOutcome(onConflict, String(doc._id));
    if (isValidationError(error)) return { status: 'failed', reason: `DynamoDB refused the item: ${describeError(error)}` };
    if (isTransientDynamoError(error)) return { status: 'failed', reason: `unprocessed after ${attempts} attempts: ${describeError(error)}` };
    throw dynamoFatal(api.where, `writing to table ${table}`, error);
  }
}

export async function conditionalPuts(
  api: DynamoApi,
  table: string,
  docs: Doc[],
  onConflict: Exclude<OnConflict, 'overwrite'>,
  limit: LimitFunction,
  policy: WritePolicy,
): Promise<WriteOutcome[]> {
  const lastById = new Map<string, Promise<unknown>>();
  return Promise.all(
    docs.map((doc) => {
      const id = doc._id as string;
      const previous = lastById.get(id) ?? Promise.resolve();
      const outcome = previous.then(() => limit(() => putIfAbsent(api, table, doc, onConflict, policy)));
      lastById.set(id, outcome.catch(() => {}));
      return outcome;
    }),
  );
}
