/**
 * Gofannon's DynamoDB layout: one table per collection, named after it (with an optional prefix),
 * hash key `_id` of type S, on-demand billing. Created when missing; an existing table is used as
 * it is, but only if its key is that single string `_id` (anything else would mangle the writes).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { TableDescription } from '@aws-sdk/client-dynamodb';
import { fatalError, isEtlError, usageError, type EtlError } from '../../errors.js';
import { withRetry } from '../common/retry.js';
import type { DynamoApi } from './client.js';
import { dynamoFatal, errorName, isTransientTableCall } from './errors.js';

const tableNamePattern = /^[A-Za-z0-9_.-]{3,255}$/;

export function tableName(prefix: string, collection: string): string {
  const name = prefix + collection;
  if (!tableNamePattern.test(name)) {
    throw usageError('bad-table-name', `collection "${collection}" cannot be a DynamoDB table "${name}": names are 3-255 characters of A-Z a-z 0-9 _ . -`);
  }
  return name;
}

/** The table, or undefined when it does not exist; transient failures retried under the run's `--retries`. */
export async function describeTable(api: DynamoApi, name: string, retries: number): Promise<TableDescription | undefined> {
  try {
    return (await withRetry(() => api.describeTable(name), isTransientTableCall, { retries })).Table;
  } catch (error) {
    if (errorName(error) === 'ResourceNotFoundException') return undefined;
    throw dynamoFatal(api.where, `describing table ${name}`, error);
  }
}

/** A clear error when the table's key is not exactly one HASH key `_id` of type S; undefined when it is. */
export function keySchemaProblem(table: TableDescription, name: string, where: string): EtlError | undefined {
  const keys = table.KeySchema ?? [];
  const idType = table.AttributeDefinitions?.find((a) => a.AttributeName === '_id')?.AttributeType;
  if (keys.length === 1 && keys[0]!.AttributeName === '_id' && keys[0]!.KeyType === 'HASH' && idType === 'S') return undefined;
  const described = keys
    .map((k) => `${k.KeyType} ${k.AttributeName} (${table.AttributeDefinitions?.find((a) => a.AttributeName === k.AttributeName)?.AttributeType ?? '?'})`)
    .join(', ');
  return fatalError('dynamodb-key-schema', `DynamoDB at ${where}: table ${name} has key ${described || '(none)'}; gofannon-etl writes Gofannon's layout, a single string hash key _id`);
}

export function checkKeySchema(table: TableDescription, name: string, where: string): void {
  const problem = keySchemaProblem(table, name, where);
  if (problem) throw problem;
}

const pollMs = 250;
const activeTimeoutMs = 5 * 60_000;

/** Polls until the table is ACTIVE again (after a create or an update), within five minutes. */
export async function waitUntilActive(api: DynamoApi, name: string, retries: number, signal?: AbortSignal): Promise<TableDescription> {
  const deadline = Date.now() + activeTimeoutMs;
  for (;;) {
    const table = await describeTable(api, name, retries);
    if (table?.TableStatus === 'ACTIVE') return table;
    if (Date.now() > deadline) throw fatalError('dynamodb-table-timeout', `DynamoDB at ${api.where}: table ${name} did not become ACTIVE within ${activeTimeoutMs / 1000} s`);
    await sleep(pollMs, undefined, { signal });
  }
}

/**
 * Makes sure the table exists, is ACTIVE and keyed by `_id`; creates it when missing. Every call
 * rides out throttling, 5xx and dropped connections under the run's `--retries`, as writes do.
 */
export async function ensureTable(api: DynamoApi, name: string, retries: number): Promise<void> {
  let table = await describeTable(api, name, retries);
  if (!table) {
    const create = () =>
      api.createTable({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [{ AttributeName: '_id', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: '_id', AttributeType: 'S' }],
      });
    try {
      await withRetry(create, isTransientTableCall, { retries });
    } catch (error) {
      // Someone (another run, another prepare, or our own attempt whose answer was lost) created
      // it first: use it, after the key check.
      if (errorName(error) !== 'ResourceInUseException') throw dynamoFatal(api.where, `creating table ${name}`, error);
    }
    table = await waitUntilActive(api, name, retries);
  } else if (table.TableStatus !== 'ACTIVE') {
    table = await waitUntilActive(api, name, retries);
  }
  checkKeySchema(table, name, api.where);
}

/**
 * What stops the tables of these collections from taking a run, all of them: names DynamoDB cannot
 * take and existing tables keyed otherwise. Missing tables are fine (they are created); a table
 * that cannot be described (unreachable, access denied) throws.
 */
export async function tableProblems(api: DynamoApi, collections: readonly string[], retries: number): Promise<EtlError[]> {
  const found = await Promise.all(
    collections.map(async (collection) => {
      let name: string;
      try {
        name = tableName(api.tablePrefix, collection);
      } catch (error) {
        if (isEtlError(error)) return error;
        throw error;
      }
      const table = await describeTable(api, name, retries);
      return table && keySchemaProblem(table, name, api.where);
    }),
  );
  return found.filter((problem): problem is EtlError => problem !== undefined);
}
