/** How DynamoDB's errors are judged: worth another try, one bad item, or the end of the run. */
import { fatalError, messageOf } from '../../errors.js';
import { redact } from '../../util/redact.js';
import { isNetworkError, isTransientStatus } from '../common/retry.js';

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

/** A failure of the whole call (missing table, access denied, unreachable): stops the run. */
export function dynamoFatal(where: string, action: string, error: unknown) {
  return fatalError('dynamodb', `DynamoDB at ${where}: ${action} failed: ${describeError(error)}`, error);
}
