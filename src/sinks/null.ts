import type { AdapterOptions, Sink } from '../types.js';

/** Discards everything: for timing a source and transforms, and for validating a backup. */
export default function nullSink(_uri: unknown, options: AdapterOptions): Sink {
  return {
    label: 'null',
    provider: 'null',
    batchSize: options.batchSize ?? 1000,
    concurrency: 1,
    identity: async () => 'null',
    prepare: async () => {},
    write: async (_collection, docs) => docs.map(() => ({ status: 'written' as const })),
    close: async () => {},
  };
}
