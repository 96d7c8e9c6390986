/**
 * The stream a table's changes are followed on: found with DescribeTable, turned on with
 * UpdateTable when the run asks (`--enable-stream`), and refused with what to do when it cannot
 * give documents (no stream, or one that carries keys or old images only).
 */
import type { TableDescription } from '@aws-sdk/client-dynamodb';
import { usageError } from '../../errors.js';
import { withRetry, type RetryPolicy } from '../common/retry.js';
import type { DynamoApi } from './client.js';
import { dynamoFatal, errorName, isTransientTableCall } from './errors.js';
import { describeTable, waitUntilActive } from './tables.js';

/** View types whose INSERT and MODIFY records hold the whole new item. */
const documentViews = new Set(['NEW_IMAGE', 'NEW_AND_OLD_IMAGES']);

export interface StreamChoice {
  /** Turn the stream on when the table has none (`--enable-stream`). */
  enable: boolean;
  retries: number;
  warn: (message: string) => void;
  signal: AbortSignal;
}

const enableCommand = (table: string) => `aws dynamodb update-table --table-name ${table} --stream-specification StreamEnabled=true,StreamViewType=NEW_IMAGE`;

export interface FollowedTable {
  collection: string;
  table: string;
}

/**
 * The ARN of each table's stream, ready to read, in order; a usage error saying what to do when
 * one has none to read. Tables without a stream are named all at once, with one command that
 * enables every one, so the operator does not learn of them one run at a time.
 */
export async function tableStreams(api: DynamoApi, tables: readonly FollowedTable[], choice: StreamChoice): Promise<string[]> {
  const descriptions: TableDescription[] = [];
  for (const { collection, table } of tables) {
    const description = await describeTable(api, table, choice.retries);
    if (!description) throw usageError('unknown-collection', `DynamoDB at ${api.where}: no table ${table} for collection ${collection}, so nothing to follow`);
    const spec = description.StreamSpecification;
    if (spec?.StreamEnabled && !documentViews.has(spec.StreamViewType ?? '')) {
      throw usageError(
        'dynamodb-no-stream',
        `DynamoDB table ${table} has a ${spec.StreamViewType} stream, which carries no documents: --follow needs NEW_IMAGE or NEW_AND_OLD_IMAGES. ` +
          `A stream's view type cannot change: disable it (\`aws dynamodb update-table --table-name ${table} --stream-specification StreamEnabled=false\`; ` +
          `whatever else reads it, such as a Lambda trigger, loses it) and enable it again with \`${enableCommand(table)}\``,
      );
    }
    descriptions.push(description);
  }
  const without = tables.filter((_, i) => !descriptions[i]!.StreamSpecification?.StreamEnabled).map((t) => t.table);
  if (without.length > 0 && !choice.enable) {
    const which = without.length === 1 ? `table ${without[0]} has` : `tables ${without.join(', ')} have`;
    throw usageError(
      'dynamodb-no-stream',
      `DynamoDB ${which} no stream, which --follow reads: enable ${without.length === 1 ? 'one' : 'them'} with \`${without.map(enableCommand).join(' && ')}\`, or run again with --enable-stream`,
    );
  }
  const arns: string[] = [];
  for (const [i, { table }] of tables.entries()) {
    const description = without.includes(table) ? await enableStream(api, table, choice) : descriptions[i]!;
    arns.push(description.LatestStreamArn!);
  }
  return arns;
}

/** UpdateTable with a NEW_IMAGE stream, then waits until the table is ACTIVE with it. */
async function enableStream(api: DynamoApi, table: string, choice: StreamChoice): Promise<TableDescription> {
  const policy: RetryPolicy = { retries: choice.retries, signal: choice.signal };
  const update = () => api.updateTable({ TableName: table, StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_IMAGE' } }, choice.signal);
  // ResourceInUseException: the table is being created or updated; it takes the update once ACTIVE.
  const inUseOrTransient = (error: unknown) => errorName(error) === 'ResourceInUseException' || isTransientTableCall(error);
  try {
    await withRetry(update, inUseOrTransient, policy);
  } catch (error) {
    choice.signal.throwIfAborted();
    throw dynamoFatal(api.where, `enabling the stream of table ${table}`, error);
  }
  const description = await waitUntilActive(api, table, choice.retries, choice.signal);
  if (!description.StreamSpecification?.StreamEnabled || !description.LatestStreamArn) {
    throw dynamoFatal(api.where, `enabling the stream of table ${table}`, new Error('the table answered without a stream'));
  }
  choice.warn(
    `DynamoDB table ${table}: enabled a NEW_IMAGE stream for --follow (it keeps changes 24 h); after the cutover, turn it off with ` +
      `\`aws dynamodb update-table --table-name ${table} --stream-specification StreamEnabled=false\` if nothing else reads it`,
  );
  return description;
}
