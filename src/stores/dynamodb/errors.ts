/** How DynamoDB's errors are judged: worth another try, one bad item, or the end of the run. */
import { fatalError, messageOf } from '../../errors.js';
import { redact } from '../../util/redact.js';
import { isNetworkError, isTransientStatus, isUnreachable } from '../common/retry.js';

const throttling = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'LimitExceededException',
  'InternalServerError',
  'ServiceUnavailable',
  'TimeoutError',
]);

export function errorName(error: unknown): string | undefined {
  return (error as { name?: string } | undefined)?.name;
}

function httpStatus(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

/** Throttling, 5xx, dropped connections, and our own "items left unprocessed" signal. */
export function isTransientDynamoError(error: unknown): boolean {
  return throttling.has(errorName(error) ?? '') || isTransientStatus(httpStatus(error)) || isNetworkError(error);
}

/** The same for table calls (list, describe, create), except that an endpoint nothing answers on fails at once. */
export function isTransientTableCall(error: unknown): boolean {
  return !isUnreachable(error) && isTransientDynamoError(error);
}

export function isValidationError(error: unknown): boolean {
  return errorName(error) === 'ValidationException';
}

/** One line for the user: DynamoDB's error name (its messages alone are vague) and words, redacted. */
export function describeError(error: unknown): string {
  const name = errorName(error);
  const message = messageOf(error).split('\n')[0]!;
  const fromService = (error as { $metadata?: unknown } | undefined)?.$metadata !== undefined;
  return redact(fromService && name && name !== 'Error' && !message.startsWith(name) ? `${name}: ${message}` : message);
}

/**
 * An answer the SDK could not read as DynamoDB's (no `__type`: it says `Unknown`/`UnknownError`; not
 * JSON: a deserialization failure) came from something else listening at that address. The SDK
 * copies the fields of a JSON answer onto the error, so CouchDB's `{"error", "reason"}` shows.
 */
function otherService(error: unknown): string | undefined {
  const name = errorName(error);
  const message = messageOf(error);
  if (name !== 'Unknown' && message !== 'UnknownError' && name !== 'SyntaxError' && !/Deserialization error/i.test(message)) return undefined;
  const fields = error as { error?: unknown; reason?: unknown };
  return typeof fields.error === 'string' && typeof fields.reason === 'string' ? 'it answered like CouchDB' : 'its answer was not DynamoDB\'s';
}

/** A failure of the whole call (missing table, access denied, unreachable): stops the run. */
export function dynamoFatal(where: string, action: string, error: unknown) {
  const status = httpStatus(error);
  const other = otherService(error);
  const hint = other ? ` (${status === undefined ? '' : `HTTP ${status}, and `}${other}: is ${where} a DynamoDB endpoint?)` : '';
  return fatalError('dynamodb', `DynamoDB at ${where}: ${action} failed: ${describeError(error)}${hint}`, error);
}
