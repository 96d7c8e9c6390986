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
  UpdateTableCommand,
  type BatchWriteItemCommandInput,
  type BatchWriteItemCommandOutput,
  type CreateTableCommandInput,
  type DescribeTableCommandOutput,
  type ListTablesCommandInput,
  type ListTablesCommandOutput,
  type PutItemCommandInput,
  type ScanCommandInput,
  type ScanCommandOutput,
  type UpdateTableCommandInput,
  type UpdateTableCommandOutput,
  type DynamoDBClientConfig,
} from '@aws-sdk/client-dynamodb';
import type {
  DescribeStreamCommandInput,
  DescribeStreamCommandOutput,
  GetRecordsCommandInput,
  GetRecordsCommandOutput,
  GetShardIteratorCommandInput,
  GetShardIteratorCommandOutput,
} from '@aws-sdk/client-dynamodb-streams';
import { messageOf, usageError } from '../../errors.js';
import { redact, registerSecret } from '../../util/redact.js';
import { checkProfile, identityOf, labelOf, streamsEndpoint, type DynamoConfig, type StaticCredentials } from './config.js';
import { errorName } from './errors.js';

export interface DynamoApi {
  /** `host:port` or `region eu-west-1`, for messages. */
  readonly where: string;
  /** Endpoint, region and the access key id's last four characters: where to look when nothing is found. */
  readonly lookedAt: string;
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
  updateTable(input: UpdateTableCommandInput, signal?: AbortSignal): Promise<Pick<UpdateTableCommandOutput, 'TableDescription'>>;
  /** The DynamoDB Streams calls (`--follow`), on a client made at the first call with this one's endpoint, region and credentials. */
  streams(): Promise<StreamsApi>;
  close(): void;
}

/** DynamoDB Streams: the calls a change feed makes. */
export interface StreamsApi {
  describeStream(input: DescribeStreamCommandInput, signal?: AbortSignal): Promise<Pick<DescribeStreamCommandOutput, 'StreamDescription'>>;
  getShardIterator(input: GetShardIteratorCommandInput, signal?: AbortSignal): Promise<Pick<GetShardIteratorCommandOutput, 'ShardIterator'>>;
  getRecords(input: GetRecordsCommandInput, signal?: AbortSignal): Promise<Pick<GetRecordsCommandOutput, 'Records' | 'NextShardIterator'>>;
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

/** Stands in when an endpoint is set and the chain finds no credentials: DynamoDB Local takes any. */
const dummyCredentials: StaticCredentials = { accessKeyId: 'local', secretAccessKey: 'local' };

type SdkLogger = NonNullable<DynamoDBClientConfig['logger']>;

/**
 * A complete logger: the SDK's credential and region chains call `debug` (a logger with only `warn`
 * crashed them: "init.logger?.debug is not a function"). Its warnings (e.g. several credential
 * sources found) become one redacted line; the rest is quiet.
 */
function sdkLogger(warn: (message: string) => void): SdkLogger {
  const quiet = () => {};
  return {
    debug: quiet,
    info: quiet,
    error: quiet,
    warn: (...args: unknown[]) => warn(`DynamoDB SDK: ${redact(String(args[0] ?? '')).split('\n')[0]}`),
  };
}

/** What both SDK clients (tables, streams) are built with, apart from where and as whom. */
function commonClientConfig(warn: (message: string) => void) {
  return {
    // Our withRetry policy is THE retry policy (its counts are what we report); one SDK attempt each.
    maxAttempts: 1,
    requestHandler: {
      httpAgent: new HttpAgent({ keepAlive: true, maxSockets }),
      httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets }),
    },
    logger: sdkLogger(warn),
  };
}

/**
 * The SDK's loggerMiddleware hands each request and answer to `logger.info`/`error` after
 * building a redacted copy of them (a schema walk over all 25 items of a batch, ~10% of an
 * import's CPU) whenever the logger has those methods. We log none of it: the middleware goes,
 * and nothing per request reaches the logger the credential chain needs.
 */
function withoutRequestLogging<C extends { middlewareStack: { remove(name: string): unknown } }>(client: C): C {
  client.middlewareStack.remove('loggerMiddleware');
  return client;
}

function sdkClient(config: DynamoConfig, credentials: StaticCredentials | undefined, warn: (message: string) => void): DynamoDBClient {
  return withoutRequestLogging(
    new DynamoDBClient({
      endpoint: config.endpoint,
      // Undefined lets the SDK's chain decide: AWS_REGION, then the profile's region in the config file.
      region: config.region,
      // Undefined runs the SDK's default chain, as boto3 does for the app, with or without an endpoint.
      credentials,
      profile: config.profile,
      ...commonClientConfig(warn),
    }),
  );
}

/**
 * The Streams client signs as the tables client does: its resolved region and its credential
 * provider itself (so a profile, SSO or role is resolved once, and dummy keys for a local endpoint
 * carry over), at the endpoint that serves Streams for the tables one (streamsEndpoint).
 */
async function streamsClient(client: DynamoDBClient, config: DynamoConfig, warn: (message: string) => void) {
  const { DynamoDBStreamsClient } = await import('@aws-sdk/client-dynamodb-streams');
  return withoutRequestLogging(
    new DynamoDBStreamsClient({
      endpoint: streamsEndpoint(config.endpoint),
      region: await client.config.region(),
      credentials: client.config.credentials,
      ...commonClientConfig(warn),
    }),
  );
}

/** The region the client signs for; a usage error naming DYNAMODB_REGION when no chain has one. */
async function regionOf(client: DynamoDBClient): Promise<string> {
  try {
    return await client.config.region();
  } catch (error) {
    throw usageError(
      'missing-region',
      'DynamoDB needs a region: set DYNAMODB_REGION (or AWS_REGION, AWS_DEFAULT_REGION, or a region for the AWS_PROFILE in the AWS config file)',
      error,
    );
  }
}

/** The access key id the SDK's chain finds, or undefined when there is none anywhere in it. */
async function chainKeyId(client: DynamoDBClient): Promise<string | undefined> {
  try {
    const found = await client.config.credentials();
    registerSecret(found.secretAccessKey);
    registerSecret(found.sessionToken);
    return found.accessKeyId;
  } catch (error) {
    if (errorName(error) === 'CredentialsProviderError') return undefined;
    throw usageError('aws-credentials', `AWS credentials could not be loaded: ${redact(messageOf(error)).split('\n')[0]}`, error);
  }
}

/**
 * A client with the credentials and region the app (boto3) would use with the same environment.
 * With an endpoint and no credentials anywhere in the chain, DynamoDB Local still needs some to
 * sign with: dummy ones, and a line saying so.
 */
export async function openDynamoApi(config: DynamoConfig, warn: (message: string) => void): Promise<DynamoApi> {
  silenceSdkNotices();
  await checkProfile(config);
  let client = sdkClient(config, config.credentials, warn);
  try {
    const region = await regionOf(client);
    let keyId = config.credentials?.accessKeyId ?? (await chainKeyId(client));
    if (keyId === undefined) {
      if (!config.endpoint) {
        throw usageError('aws-credentials', 'no AWS credentials found: set AWS_PROFILE (shared credentials/config files, SSO) or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run with a role');
      }
      warn(`DynamoDB at ${config.where}: no AWS credentials found (keys, profile, SSO, web identity, container or instance role); signing with dummy keys, which only a local endpoint accepts`);
      client.destroy();
      client = sdkClient(config, dummyCredentials, warn);
      keyId = dummyCredentials.accessKeyId;
    }
    const located = { ...config, where: config.endpoint ? config.where : `region ${region}` };
    const lookedAt = `${config.endpoint ? `${config.endpoint}, region ${region}` : located.where}, access key id …${keyId.slice(-4)}`;
    return dynamoApi(client, located, lookedAt, warn);
  } catch (error) {
    client.destroy();
    throw error;
  }
}

function dynamoApi(client: DynamoDBClient, config: DynamoConfig, lookedAt: string, warn: (message: string) => void): DynamoApi {
  let streams: Promise<{ api: StreamsApi; destroy(): void }> | undefined;
  const openStreams = async () => {
    const { DescribeStreamCommand, GetRecordsCommand, GetShardIteratorCommand } = await import('@aws-sdk/client-dynamodb-streams');
    const streamsSdk = await streamsClient(client, config, warn);
    const api: StreamsApi = {
      describeStream: (input, signal) => streamsSdk.send(new DescribeStreamCommand(input), { abortSignal: signal }),
      getShardIterator: (input, signal) => streamsSdk.send(new GetShardIteratorCommand(input), { abortSignal: signal }),
      getRecords: (input, signal) => streamsSdk.send(new GetRecordsCommand(input), { abortSignal: signal }),
    };
    return { api, destroy: () => streamsSdk.destroy() };
  };
  return {
    where: config.where,
    lookedAt,
    label: labelOf(config),
    identity: identityOf(config),
    tablePrefix: config.tablePrefix,
    batchWrite: (input, signal) => client.send(new BatchWriteItemCommand(input), { abortSignal: signal }),
    putItem: (input, signal) => client.send(new PutItemCommand(input), { abortSignal: signal }),
    scan: (input, signal) => client.send(new ScanCommand(input), { abortSignal: signal }),
    describeTable: (tableName, signal) => client.send(new DescribeTableCommand({ TableName: tableName }), { abortSignal: signal }),
    createTable: (input) => client.send(new CreateTableCommand(input)),
    listTables: (input) => client.send(new ListTablesCommand(input)),
    updateTable: (input, signal) => client.send(new UpdateTableCommand(input), { abortSignal: signal }),
    streams: async () => (await (streams ??= openStreams())).api,
    close: () => {
      client.destroy();
      void streams?.then((opened) => opened.destroy(), () => {});
    },
  };
}
