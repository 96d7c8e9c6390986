import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe } from 'vitest';
import fileSink from '../src/sinks/file.js';
import fileSource from '../src/sources/file.js';
import { describeConformance } from './conformance.js';
import { testAdapterOptions } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'etl-file-conformance-'));
let files = 0;

for (const suffix of ['json', 'json.gz', 'ndjson', 'jsonl.gz']) {
  describe(`file .${suffix}`, () => {
    let last = '';
    const uri = (path: string) => ({ scheme: 'file', rest: path, raw: `file:${path}` });
    describeConformance(`file .${suffix}`, {
      sink: async (options) => {
        last = join(dir, `export-${files++}.${suffix}`);
        return fileSink(uri(last), testAdapterOptions(options));
      },
      source: async (options) => fileSource(uri(last), testAdapterOptions(options)),
      // A file is written front to back: writing an _id again appends a later version.
      appendOnly: true,
      // A gzipped file's metadata (written last) cannot be read without decompressing the whole
      // file, so listCollections answers undefined there, as Source.listCollections allows.
      lists: suffix.endsWith('.gz') ? 'unknown' : 'collections',
    });
  });
}
