/**
 * Where a `dynamodb` URI points and with which credentials, from the URI and the environment the
 * Gofannon app already uses: DYNAMODB_ENDPOINT_URL, DYNAMODB_REGION and the AWS credential chain.
 */
import { usageError } from '../../errors.js';
import { registerSecret } from '../../util/redact.js';
import type { AdapterOptions, ParsedUri } from '../../types.js';

export interface StaticCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface DynamoConfig {
  /** Full endpoint URL, or undefined for AWS's regional endpoint. */
  endpoint?: string;
  /** Undefined lets the SDK's chain (profile files) decide. */
  region?: string;
  /** Undefined lets the SDK's default credential chain decide. */
  credentials?: StaticCredentials;
  /** AWS_PROFILE: the profile whose keys and region the SDK's chains read. */
  profile?: string;
  /** `host:port` or `region eu-west-1`: names the target in messages; never holds a secret. */
  where: string;
  tablePrefix: string;
}

/** `dynamodb`, `dynamodb:` or `dynamodb://host:port` (plain http, as DynamoDB Local speaks). */
function endpointFromUri(uri: ParsedUri): string | undefined {
  if (uri.rest === '' || uri.rest === '//') return undefined;
  const match = /^\/\/([^/?#@\s]+)\/?$/.exec(uri.rest);
  if (!match) throw usageError('bad-uri', `cannot read "${uri.raw}": use dynamodb or dynamodb://host:port`);
  return `http://${match[1]}`;
}

function hostOf(endpoint: string): string {
  try {
    return new URL(endpoint).host;
  } catch (error) {
    throw usageError('bad-endpoint', `DYNAMODB_ENDPOINT_URL is not a URL: ${endpoint}`, error);
  }
}

export function resolveDynamoConfig(uri: ParsedUri, options: Pick<AdapterOptions, 'env' | 'tablePrefix'>): DynamoConfig {
  const env = options.env;
  const endpoint = endpointFromUri(uri) ?? (env.DYNAMODB_ENDPOINT_URL || undefined);
  const where = endpoint ? hostOf(endpoint) : undefined;
  // As the app: DYNAMODB_REGION, then AWS_REGION / AWS_DEFAULT_REGION; otherwise the SDK reads the
  // profile's region from the config file (openDynamoApi refuses to go on without one).
  const region = env.DYNAMODB_REGION || env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined;

  // Static keys only when both variables are set, as the app; otherwise the SDK's default chain
  // (profile, SSO, web identity, container and instance roles), with or without an endpoint.
  let credentials: StaticCredentials | undefined;
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    registerSecret(env.AWS_SECRET_ACCESS_KEY);
    registerSecret(env.AWS_SESSION_TOKEN);
    credentials = {
      accessKeyId: env.AWS_ACCESS_KEY_ID,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
      ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
    };
  }

  return {
    endpoint,
    region,
    credentials,
    profile: env.AWS_PROFILE || undefined,
    where: where ?? `region ${region ?? 'from the AWS config'}`,
    tablePrefix: options.tablePrefix ?? '',
  };
}

/**
 * A named profile must be in the shared files the SDK reads (AWS_SHARED_CREDENTIALS_FILE and
 * AWS_CONFIG_FILE, else ~/.aws). Otherwise the SDK's chains fail each in its own way (no region, no
 * credentials) and neither says that the name is the problem. Read with the SDK's own file loader.
 */
export async function checkProfile(config: Pick<DynamoConfig, 'profile'>): Promise<void> {
  const { profile } = config;
  if (!profile) return;
  const { loadSharedConfigFiles } = await import('@smithy/core/config');
  const { configFile, credentialsFile } = await loadSharedConfigFiles();
  if (configFile[profile] || credentialsFile[profile]) return;
  // Other sections of the config file (sso-session.x, services.x) are not profiles.
  const known = [...new Set([...Object.keys(credentialsFile), ...Object.keys(configFile)])].filter((name) => !/^(sso-session|services)\./.test(name)).sort();
  const files = `${process.env.AWS_SHARED_CREDENTIALS_FILE || '~/.aws/credentials'} or ${process.env.AWS_CONFIG_FILE || '~/.aws/config'}`;
  throw usageError('unknown-aws-profile', `AWS_PROFILE=${profile} is not a profile in ${files}${known.length > 0 ? `; the profiles there: ${known.join(', ')}` : ''}`);
}

/** `dynamodb://127.0.0.1:8000` or `dynamodb (region eu-west-1)`, with the prefix when there is one. */
export function labelOf(config: Pick<DynamoConfig, 'endpoint' | 'where' | 'tablePrefix'>): string {
  const base = config.endpoint ? `dynamodb://${config.where}` : `dynamodb (${config.where})`;
  return config.tablePrefix ? `${base} tables ${config.tablePrefix}*` : base;
}

/** For checkpoints: the endpoint (or region) and prefix; never credentials. */
export function identityOf(config: DynamoConfig): string {
  return `dynamodb:${config.endpoint ?? config.where}:${config.tablePrefix}`;
}

/**
 * Where DynamoDB Streams answers for a tables endpoint: AWS serves it on its own host
 * (`dynamodb.eu-west-1.amazonaws.com` → `streams.dynamodb.eu-west-1.amazonaws.com`); DynamoDB
 * Local, LocalStack and other emulators on the same one. Undefined (the SDK's regional endpoint)
 * stays undefined.
 */
export function streamsEndpoint(endpoint: string | undefined): string | undefined {
  if (!endpoint) return endpoint;
  const url = new URL(endpoint);
  if (/^dynamodb(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/.test(url.hostname)) {
    url.hostname = `streams.${url.hostname}`;
    return url.toString().replace(/\/$/, '');
  }
  return endpoint;
}
