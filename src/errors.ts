/**
 * Typed errors. Library code throws these; only the CLI maps them to exit codes and prints them
 * (one line, no stack unless --verbose).
 */
export type ErrorKind = 'usage' | 'fatal' | 'interrupted';

export class EtlError extends Error {
  /** The counts so far, when the error stopped a run (so the CLI can say what was written before it). */
  report?: unknown;

  constructor(
    readonly kind: ErrorKind,
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'EtlError';
  }
}

/** Bad option, unknown scheme, missing file or env variable: exit 2. */
export function usageError(code: string, message: string, cause?: unknown): EtlError {
  return new EtlError('usage', code, message, { cause });
}

/** Malformed input, unreachable target, anything that stops the run: exit 3. */
export function fatalError(code: string, message: string, cause?: unknown): EtlError {
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
