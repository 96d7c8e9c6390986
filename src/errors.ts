/**
 * Typed errors. Library code throws these; only the CLI maps them to exit codes and prints them
 * (one line, no stack unless --verbose). An interruption is not an error: the run returns a report
 * that says `interrupted`.
 */
import type { RunReport } from './types.js';

/** The command, its options, the environment or a file named must change: exit 2. */
export type UsageErrorCode =
  | 'aws-credentials'
  | 'bad-collections'
  | 'bad-endpoint'
  | 'bad-firestore-uri'
  | 'bad-option'
  | 'bad-record'
  | 'bad-resume'
  | 'bad-shard'
  | 'bad-table-name'
  | 'ambiguous-export'
  | 'bad-uri'
  | 'cannot-follow'
  | 'cannot-list-collections'
  | 'cannot-resume'
  | 'cannot-verify'
  | 'checkpoint-complete'
  | 'checkpoint-exists'
  | 'checkpoint-mismatch'
  | 'checkpoint-unreadable'
  | 'collection-name'
  | 'couchdb-db-name'
  | 'couchdb-url'
  | 'dynamodb-no-stream'
  | 'file-not-found'
  | 'file-unreadable'
  | 'file-unwritable'
  | 'missing-credentials-file'
  | 'missing-firestore-project'
  | 'missing-region'
  | 'no-checkpoint'
  | 'not-an-export'
  | 'nothing-found'
  | 'not-resumable'
  | 'output-file'
  | 'reports-differ'
  | 'transform-arguments'
  | 'transform-no-default'
  | 'transform-not-found'
  | 'transform-unreadable'
  | 'unknown-aws-profile'
  | 'unknown-collection'
  | 'unknown-scheme'
  | 'unsupported-export';

/** Something stopped the run: malformed input, a target unreachable or refusing, a broken contract: exit 3. */
export type FatalErrorCode =
  | 'bad-collection-name'
  | 'cannot-delete'
  | 'changes-lost'
  | 'couchdb-auth'
  | 'couchdb-failed'
  | 'couchdb-unreachable'
  | 'dynamodb'
  | 'dynamodb-key-schema'
  | 'dynamodb-table-timeout'
  | 'file-collection-order'
  | 'firestore-credentials'
  | 'firestore-list-failed'
  | 'firestore-read-failed'
  | 'firestore-write-failed'
  | 'malformed-input'
  | 'run-failed'
  | 'sink-contract'
  | 'write-failed';

export type ErrorCode = UsageErrorCode | FatalErrorCode;

export type ErrorKind = 'usage' | 'fatal';

export class EtlError extends Error {
  /** The counts so far, when the error stopped a run (so the CLI can say what was written before it). */
  report?: RunReport;

  constructor(
    readonly kind: ErrorKind,
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'EtlError';
  }
}

/** Bad option, unknown scheme, missing file or env variable: exit 2. */
export function usageError(code: UsageErrorCode, message: string, cause?: unknown): EtlError {
  return new EtlError('usage', code, message, { cause });
}

/** Malformed input, unreachable target, anything that stops the run: exit 3. */
export function fatalError(code: FatalErrorCode, message: string, cause?: unknown): EtlError {
  return new EtlError('fatal', code, message, { cause });
}

export function isEtlError(error: unknown): error is EtlError {
  return error instanceof EtlError;
}

/** The message of anything thrown, for a one-line report. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
