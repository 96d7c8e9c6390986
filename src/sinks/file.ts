/**
 * `file:PATH` sink: an export file (`.json`) or our NDJSON format (`.ndjson`/`.jsonl`), gzipped
 * when the name ends in `.gz`; a name that does not tell (`file:-` for stdout, `file:backup`, a
 * FIFO) takes `--format`, else JSON. `file:-.ndjson` (`-.json.gz`, …) is stdout in that format.
 * FIFOs and devices (/dev/stdout) are written in place; `createSink` writes either format to any
 * stream. The text of each format is formats/layouts.ts; the file itself (temp name, 0600, gzip,
 * rename when complete) is stores/file/output.ts.
 */
import { resolve } from 'node:path';
import { type FileFormat, formatFromName } from '../formats/file-name.js';
import { type FileOutput, type Output, openOutput } from '../stores/file/output.js';
import { isStdioName } from '../util/stdio-name.js';
import { exportLayout, ndjsonLayout } from '../formats/layouts.js';
import type { AdapterOptions, ParsedUri, Sink, WriteOutcome } from '../types.js';
import { fatalError, usageError } from '../errors.js';

export interface FileSinkOptions {
  /** The layout: our export (`json`, the default) or `ndjson`; for `file:PATH` the name decides when it tells. */
  format?: FileFormat;
  gzip?: boolean;
  /** Documents per write. */
  batchSize?: number;
}

export default function fileSink(uri: ParsedUri, options: AdapterOptions): Sink {
  const path = uri.rest;
  if (!path) throw usageError('bad-uri', 'file: needs a path, e.g. file:backup.json (or file:- for stdout)');
  const named = formatFromName(path);
  const settings = { format: named.format ?? ownFormat(options.format) ?? 'json', gzip: named.gzip, batchSize: options.batchSize };
  const output: FileOutput = isStdioName(path) ? { stream: process.stdout, name: 'stdout', owns: false } : { path };
  return createSink(output, settings, `file:${path}`);
}

/** A sink writing one export, in the layout and compression asked for, to a path or to a stream. */
export function createSink(output: FileOutput, options: FileSinkOptions, label: string): Sink {
  const layout = options.format === 'ndjson' ? ndjsonLayout : exportLayout;
  const where = 'path' in output ? output.path : output.name;

  let opening: Promise<Output> | undefined;
  let sourceProvider = 'unknown';
  const written: string[] = [];
  let current: string | undefined;
  let currentHasDocs: boolean | undefined;

  const opened = (): Promise<Output> => {
    opening ??= (async () => {
      const out = await openOutput(output, options.gzip ?? false);
      await out.write(layout.start());
      return out;
    })();
    return opening;
  };

  return {
    label,
    provider: 'file',
    batchSize: options.batchSize ?? 1000,
    // Files are written in order, one batch at a time, and rewritten whole by every run.
    concurrency: 1,
    resumable: false,
    identity: async () => ('path' in output ? `file:${resolve(output.path)}` : label),
    // Nothing is created until the first collection (a dry run opens the sink but never prepares).
    async begin(run) {
      sourceProvider = run.sourceProvider;
    },
    wouldCreate: async (collection) => `array "${collection}" in ${where}`,
    async prepare(collection) {
      if (collection === current) return;
      if (written.includes(collection)) {
        throw fatalError('file-collection-order', `file sink: collection "${collection}" was already written and closed; a file takes each collection's documents in one run of writes`);
      }
      const out = await opened();
      await out.write(layout.collection(collection, written.length === 0, currentHasDocs));
      written.push(collection);
      current = collection;
      currentHasDocs = false;
    },
    async write(collection, docs): Promise<WriteOutcome[]> {
      if (collection !== current) {
        throw fatalError('file-collection-order', `file sink: write for collection "${collection}" while "${current ?? '(none)'}" is open; prepare it first, and finish each collection before the next`);
      }
      if (docs.length > 0) {
        await (await opened()).write(layout.docs(collection, docs, !currentHasDocs));
        currentHasDocs = true;
      }
      return docs.map(() => ({ status: 'written' }));
    },
    async close(complete) {
      // A failed run that never opened its output leaves nothing; a stream it owns must still see the failure.
      if (!complete && !opening && !('stream' in output && output.owns)) return;
      const out = await opened();
      if (complete) {
        const metadata = { provider: sourceProvider, exported_at: new Date().toISOString(), collections: written };
        await out.write(layout.end(metadata, currentHasDocs));
      }
      await out.close(complete);
    },
  };
}

/** The format a target was told to write; a format we only read is not one (`--format couchbackup` described the source). */
function ownFormat(format: string | undefined): 'json' | 'ndjson' | undefined {
  if (format === undefined || format === 'json' || format === 'ndjson') return format;
  return undefined;
}
