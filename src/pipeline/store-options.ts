import type { AdapterOptions, StoreOptions } from '../types.js';
import { redact } from '../util/redact.js';

/** The store options a caller gave, with the defaults filled in. */
export function adapterOptions(options: StoreOptions): AdapterOptions {
  return {
    onConflict: options.onConflict ?? 'overwrite',
    concurrency: options.concurrency,
    batchSize: options.batchSize,
    segments: options.segments,
    tablePrefix: options.tablePrefix,
    includeDesign: options.includeDesign,
    format: options.format,
    collectionName: options.collectionName,
    enableStream: options.enableStream,
    env: options.env ?? process.env,
    retries: options.retries ?? 8,
    warn: options.warn ?? ((m: string) => process.stderr.write(`${redact(m)}\n`)),
  };
}
