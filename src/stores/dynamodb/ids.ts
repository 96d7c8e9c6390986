/**
 * The `_id`s a table holds, page by page: a Scan that asks for the key alone, for a change feed that
 * compares after a restart (Sink.ids). A table that does not exist holds none.
 */
import { withRetry, type RetryPolicy } from '../common/retry.js';
import type { DynamoApi } from './client.js';
import { dynamoFatal, errorName, isTransientDynamoError } from './errors.js';
import type { Item } from './marshal.js';

export async function* scanIds(api: DynamoApi, table: string, policy: RetryPolicy & { signal: AbortSignal }): AsyncIterable<string[]> {
  let startKey: Item | undefined;
  do {
    let page;
    try {
      page = await withRetry(
        () =>
          api.scan(
            { TableName: table, ProjectionExpression: '#id', ExpressionAttributeNames: { '#id': '_id' }, ...(startKey ? { ExclusiveStartKey: startKey } : {}) },
            policy.signal,
          ),
        isTransientDynamoError,
        policy,
      );
    } catch (error) {
      policy.signal.throwIfAborted();
      if (errorName(error) === 'ResourceNotFoundException') return;
      throw dynamoFatal(api.where, `listing the ids of table ${table}`, error);
    }
    const ids = (page.Items ?? []).flatMap((item) => (item._id?.S === undefined ? [] : [item._id.S]));
    if (ids.length > 0) yield ids;
    startKey = page.LastEvaluatedKey;
  } while (startKey);
}
