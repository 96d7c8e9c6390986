/**
 * The narrow DynamoDB client the adapters use: only the calls they make, so unit tests can hand in
 * a fake, while conformance tests run the real SDK against DynamoDB Local.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import {
  BatchWriteItemCommand,
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  PutItemCommand,
  ScanCommand,
  type BatchWriteItemCommandInput,
  type BatchWriteItemCommandOutput,
  type CreateTableCommandInput,
  type DescribeTableCommandOutput,
  type ListTablesCommandInput,
  type ListTablesCommandOutput,
  type PutItemCommandInput,
  type ScanCommandInput,
  type ScanCommandOutput,
  type DynamoDBClientConfig,
} from '@aws-sdk/client-dynamodb';
import { redact } from '../../util/redact.js';
import { identityOf, labelOf, type DynamoConfig } from './config.js';

export interface DynamoApi {
  /** `host:port` or region, for messages. */
  readonly where: string;
  /** Names the store in messages (`dynamodb://host:port tables stage_*`) and checkpoints; no secrets. */
  readonly label: string;
  readonly identity: string;
  /** Tables of this store are named prefix + collection. */
  readonly tablePrefix: string;
  batchWrite(input: BatchWriteItemCommandInput, signal?: AbortSignal): Promise<Pick<BatchWriteItemCommandOutput, 'UnprocessedItems'>>;
  putItem(input: PutItemCommandInput, signal?: AbortSignal): Promise<unknown>;
  scan(input: ScanCommandInput, signal?: AbortSignal): Promise<Pick<ScanCommandOutput, 'Items' | 'LastEvaluatedKey'>>;
  describeTable(tableName: string, signal?: AbortSignal): Promise<Pick<DescribeTableCommandOutput, 'Table'>>;
  createTable(input: CreateTableCommandInput): Promise<unknown>;
  listTables(input: ListTablesCommandInput): Promise<Pick<ListTablesCommandOutput, 'TableNames' | 'LastEvaluatedTableName'>>;
  close(): void;
}

/**
 * The SDK prints a multi-line NodeVersionSupportWarning on Node < 22 through process.emitWarning;
 * this is its own documented switch (read when a client is built). It only silences that notice:
 * every error still reaches us as a rejected call.
 */
function silenceSdkNotices(): void {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}

/** Enough sockets for every batch in flight; keep-alive so each call does not pay a handshake. */
const maxSockets = 128;

export function openDynamoApi(config: DynamoConfig, warn: (message: string) => void): DynamoApi {
  silenceSdkNotices();
  const client = new DynamoDBClient({
    endpoint: config.endpoint,
    region: config.region,
    credentials: config.credentials,
    // Our withRetry policy is THE retry policy (its counts are what we report); one SDK attempt each.
    maxAttempts: 1,
    requestHandler: {
      httpAgent: new HttpAgent({ keepAlive: true, maxSockets }),
      httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets }),
    },
    // The SDK's own warnings (e.g. several credential sources found) become one redacted line.
    // Only `warn`: for a logger with `info` or `error`, even a no-op one, the SDK builds a redacted
    // copy of every request and answer (a schema walk over all 25 items, ~10% of an import's CPU).
    logger: {
      warn: (...args: unknown[]) => warn(`DynamoDB SDK: ${redact(String(args[0] ?? '')).split('\n')[0]}`),
    } as unknown as NonNullable<DynamoDBClientConfig['logger']>,
  });
  return {
    where: config.where,
    label: labelOf(config),
    identity: identityOf(config),
    tablePrefix: config.tablePrefix,
    batchWrite: (input, signal) => client.send(new BatchWriteItemCommand(input), { abortSignal: signal }),
    putItem: (input, signal) => client.send(new PutItemCommand(input), { abortSignal: signal }),
    scan: (input, signal) => client.send(new ScanCommand(input), { abortSignal: signal }),
    describeTable: (tableName, signal) => client.send(new DescribeTableCommand({ TableName: tableName }), { abortSignal: signal }),
    createTable: (input) => client.send(new CreateTableCommand(input)),
    listTables: (input) => client.send(new ListTablesCommand(input)),
    close: () => client.destroy(),
  };
}
