import { redact } from '../util/redact.js';
import type { AdapterOptions, OnConflict } from '../types.js';

/** What a caller may say about the stores of a run (CLI flags, library options). */
export interface StoreOptions {
  onConflict?: OnConflict;
  concurrency?: number;
  batchSize?: number;
  /** DynamoDB source: parallel scan segments. */
  segments?: number;
  /** DynamoDB: table name prefix. */
  tablePrefix?: string;
  /** CouchDB source: include `_design/` documents. */
  includeDesign?: boolean;
  /** Retries of transient errors per batch (default 8). */
  retries?: number;
  /** Configuration variables (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Warnings worth a line (never data). Default: stderr, redacted. */
  warn?: (message: string) => void;
}

export function adapterOptions(options: StoreOptions): AdapterOptions {
  return {
    onConflict: options.onConflict ?? 'overwrite',
    concurrency: options.concurrency,
    batchSize: options.batchSize,
    segments: options.segments,
    tablePrefix: options.tablePrefix,
    includeDesign: options.includeDesign,
    env: options.env ?? process.env,
    retries: options.retries ?? 8,
    warn: options.warn ?? ((m: string) => process.stderr.write(`${redact(m)}\n`)),
  };
}
