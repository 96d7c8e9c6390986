/**
 * `file:PATH` sink: an export file (`.json`) or our NDJSON format (`.ndjson`/`.jsonl`), gzipped
 * when the name ends in `.gz`; a name that does not tell (`file:-` for stdout, `file:backup`, a
 * FIFO) takes `--format`, else JSON. `file:-.ndjson` (`-.json.gz`, …) is stdout in that format.
 * FIFOs and devices (/dev/stdout) are written in place; `createSink` writes either format to any
 * stream. The text of each format is formats/layouts.ts; the file itself (temp name, 0600, gzip,
 * rename when complete) is stores/file/output.ts.
 *
 * With `--follow` the target is a change log (stores/file/change-log.ts): NDJSON only, written in
 * place as changes come, deletions as tombstone lines; a resumed run appends to it.
 */
import { resolve } from 'node:path';
import { type FileFormat, formatFromName } from '../formats/file-name.js';
import { type FileOutput, type Output, openOutput } from '../stores/file/output.js';
import { openChangeLog } from '../stores/file/change-log.js';
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
  /** Write a change log (`--follow`): NDJSON, each change in the output before it is acknowledged. */
  follow?: boolean;
  /** Warnings worth a line (a resumed log's unfinished last line cut away). Default: stderr. */
  warn?: (message: string) => void;
}

export default function fileSink(uri: ParsedUri, options: AdapterOptions): Sink {
  const path = uri.rest;
  if (!path) throw usageError('bad-uri', 'file: needs a path, e.g. file:backup.json (or file:- for stdout)');
  const named = formatFromName(path);
  const settings = { format: named.format ?? ownFormat(options.format) ?? 'json', gzip: named.gzip, batchSize: options.batchSize, follow: options.follow, warn: options.warn };
  const output: FileOutput = isStdioName(path) ? { stream: process.stdout, name: 'stdout', owns: false } : { path };
  return createSink(output, settings, `file:${path}`);
}

/** A sink writing one export, in the layout and compression asked for, to a path or to a stream. */
export function createSink(output: FileOutput, options: FileSinkOptions, label: string): Sink {
  const follow = options.follow ?? false;
  if (follow && options.format !== 'ndjson') {
    throw usageError('bad-option', `${label}: --follow writes a change log, one line a change, which a JSON export cannot hold: ${ndjsonInstead(output)}`);
  }
  const layout = options.format === 'ndjson' ? ndjsonLayout : exportLayout;
  const where = 'path' in output ? output.path : output.name;
  const gzip = options.gzip ?? false;

  let opening: Promise<Output> | undefined;
  let sourceProvider = 'unknown';
  let resumed = false;
  const written: string[] = [];
  let current: string | undefined;
  let currentHasDocs: boolean | undefined;
  /** Tombstones were written: the file is a change log even without --follow (a log copied into NDJSON). */
  let removed = false;

  const open = async (): Promise<Output> => {
    if (follow) return openChangeLog(output, { gzip, append: resumed, warn: options.warn ?? ((m) => process.stderr.write(`${m}\n`)) });
    return openOutput(output, gzip);
  };
  const opened = (): Promise<Output> => {
    opening ??= (async () => {
      const out = await open();
      await out.write(layout.start());
      // Each run of a change log begins by saying so: a reader then knows it before reading (see ExportMetadata.changes).
      if (follow) await out.write(layout.end({ provider: sourceProvider, changes: true }, undefined));
      return out;
    })();
    return opening;
  };

  const sink: Sink = {
    label,
    provider: 'file',
    batchSize: options.batchSize ?? 1000,
    // Files are written in order, one batch at a time.
    concurrency: 1,
    // An export is rewritten whole by every run; a change log in a file is appended to.
    resumable: follow && 'path' in output,
    identity: async () => ('path' in output ? `file:${resolve(output.path)}` : label),
    // Nothing is created until the first collection (a dry run opens the sink but never prepares),
    // except that a resumed change log is opened at once: whether it can be appended to is known before anything is read.
    async begin(run) {
      sourceProvider = run.sourceProvider;
      resumed = run.resumed ?? false;
      if (follow && resumed) await opened();
    },
    wouldCreate: async (collection) => `${layout.interleaves ? 'lines of' : 'array'} "${collection}" in ${where}`,
    async prepare(collection) {
      if (collection === current || (layout.interleaves && written.includes(collection))) return;
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
      if (collection !== current && !(layout.interleaves && written.includes(collection))) {
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
        // A change log's collections grow with every run that appends to it: a reader learns them by reading it.
        const metadata = { provider: sourceProvider, exported_at: new Date().toISOString(), ...(follow ? {} : { collections: written }), ...(follow || removed ? { changes: true } : {}) };
        await out.write(layout.end(metadata, currentHasDocs));
      }
      await out.close(complete);
    },
  };
  const { deletes } = layout;
  if (deletes) {
    // Tombstones: the order of the lines is the order of the changes (concurrency 1).
    sink.remove = async (collection, ids) => {
      if (!written.includes(collection)) await sink.prepare(collection);
      if (ids.length > 0) await (await opened()).write(deletes(collection, ids));
      removed ||= ids.length > 0;
      return ids.map(() => ({ status: 'written' }));
    };
  }
  return sink;
}

/** How to ask for the NDJSON a change log needs, for this output. */
function ndjsonInstead(output: FileOutput): string {
  if ('stream' in output) return output.owns ? "give fileSink format: 'ndjson'" : 'write to file:-.ndjson';
  const named = formatFromName(output.path);
  if (named.format === undefined) return 'add --format ndjson';
  return `write to a .ndjson target (file:${output.path.replace(/\.json(?=(\.gz)?$)/i, '.ndjson')})`;
}

/** The format a target was told to write; a format we only read is not one (`--format couchbackup` described the source). */
function ownFormat(format: string | undefined): 'json' | 'ndjson' | undefined {
  if (format === undefined || format === 'json' || format === 'ndjson') return format;
  return undefined;
}
