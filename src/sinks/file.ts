/**
 * `file:PATH` sink: an export file (`.json`, or any other name) or our NDJSON format
 * (`.ndjson`/`.jsonl`, see src/json/ndjson-reader.ts), gzipped when the name ends in `.gz`;
 * `file:-` writes the JSON export to stdout.
 *
 * The JSON export is what export.py writes and import.py's `json.load` reads (indent 2), except
 * that `metadata` comes after `data`: its collection list is known only at the end, and holding
 * the data back to write it first would defeat streaming. Our own reader accepts any key order.
 * Documents go through stringifyExact, so ExactNumber digits come out as they went in.
 */
import type { Writable } from 'node:stream';
import { resolve } from 'node:path';
import { formatFromName } from '../stores/file/input.js';
import { type Output, openFileOutput, openStreamOutput } from '../stores/file/output.js';
import { stringifyExact } from '../formats/serialize.js';
import type { AdapterOptions, Doc, ParsedUri, Sink, WriteOutcome } from '../types.js';
import { fatalError, usageError } from '../errors.js';

/** Test and library hook: another stream than process.stdout for `file:-`. */
export interface FileSinkOptions {
  stdout?: Writable;
}

/** Writes one format: the header once, a collection's opening, its documents, the ending. */
interface Layout {
  start(): string;
  collection(name: string, first: boolean, previousHadDocs: boolean | undefined): string;
  docs(collection: string, docs: Doc[], firstInCollection: boolean): string;
  end(metadata: object, lastHadDocs: boolean | undefined): string;
}

const docIndent = '\n      ';

const exportLayout: Layout = {
  start: () => '{\n  "data": {',
  collection: (name, first, previousHadDocs) => `${closeArray(previousHadDocs)}${first ? '' : ','}\n    ${JSON.stringify(name)}: [`,
  docs: (_collection, docs, firstInCollection) => {
    let text = '';
    for (let i = 0; i < docs.length; i++) {
      text += (firstInCollection && i === 0 ? docIndent : `,${docIndent}`) + stringifyExact(docs[i], 2).replace(/\n/g, docIndent);
    }
    return text;
  },
  end: (metadata, lastHadDocs) =>
    `${closeArray(lastHadDocs)}${lastHadDocs === undefined ? '},' : '\n  },'}\n  "metadata": ${JSON.stringify(metadata, null, 2).replace(/\n/g, '\n  ')}\n}\n`,
};

/** `]` after a collection's array: on its own line after documents, straight after `[` when empty. */
function closeArray(hadDocs: boolean | undefined): string {
  if (hadDocs === undefined) return '';
  return hadDocs ? '\n    ]' : ']';
}

const ndjsonLayout: Layout = {
  start: () => '',
  collection: (name) => `${JSON.stringify({ collection: name })}\n`,
  docs: (collection, docs) => {
    const prefix = `{"collection":${JSON.stringify(collection)},"doc":`;
    let text = '';
    for (const doc of docs) text += `${prefix}${stringifyExact(doc)}}\n`;
    return text;
  },
  end: (metadata) => `${JSON.stringify({ metadata })}\n`,
};

export default function fileSink(uri: ParsedUri, options: AdapterOptions & FileSinkOptions): Sink {
  const path = uri.rest;
  if (!path) throw usageError('bad-uri', 'file: needs a path, e.g. file:backup.json (or file:- for stdout)');
  const toStdout = path === '-';
  const named = toStdout ? { gzip: false } : formatFromName(path);
  const layout = named.format === 'ndjson' ? ndjsonLayout : exportLayout;

  let output: Promise<Output> | undefined;
  let sourceProvider = 'unknown';
  const written: string[] = [];
  let current: string | undefined;
  let currentHasDocs: boolean | undefined;

  const opened = (): Promise<Output> => {
    output ??= (async () => {
      const out = toStdout
        ? openStreamOutput(options.stdout ?? process.stdout, options.stdout !== undefined)
        : await openFileOutput(path, named.gzip);
      await out.write(layout.start());
      return out;
    })();
    return output;
  };

  return {
    label: `file:${path}`,
    provider: 'file',
    batchSize: options.batchSize ?? 1000,
    // Files are written in order, one batch at a time, and rewritten whole by every run.
    concurrency: 1,
    resumable: false,
    identity: async () => (toStdout ? 'file:-' : `file:${resolve(path)}`),
    // Nothing is created until the first collection (a dry run opens the sink but never prepares).
    async begin(run) {
      sourceProvider = run.sourceProvider;
    },
    wouldCreate: async (collection) => `array "${collection}" in ${toStdout ? 'stdout' : path}`,
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
      if (!complete && !output) return;
      const out = await opened();
      if (complete) {
        const metadata = { provider: sourceProvider, exported_at: new Date().toISOString(), collections: written };
        await out.write(layout.end(metadata, currentHasDocs));
      }
      await out.close(complete);
    },
  };
}
