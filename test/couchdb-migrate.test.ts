/**
 * The backup path end to end through `migrate`: an export file into CouchDB and back out
 * to a gzipped file, exact, then the same file imported again over the documents it wrote.
 * The corpus has no integers beyond 2^53: pouchdb-server (JavaScript) cannot hold them; the wire
 * itself carries them exactly (test/couchdb-stub.test.ts).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { expect, inject, test } from 'vitest';
import { parseJson } from '../src/formats/parse.js';
import { stringifyExact } from '../src/formats/serialize.js';
import { migrate } from '../src/pipeline.js';
import type { Doc } from '../src/types.js';
import { corpusWithoutBigIntegers, sortById, uniquePrefix } from './corpus.js';

const couchUri = inject('couchdbAuthUrl').replace(/^http:/, 'couchdb:');
const quiet = { warn: () => {} };

function exportOf(prefix: string): { file: string; data: Record<string, Doc[]> } {
  const data = Object.fromEntries(Object.entries(corpusWithoutBigIntegers()).map(([c, docs]) => [`${prefix}_${c}`, docs]));
  const file = join(mkdtempSync(join(tmpdir(), 'couch-migrate-')), 'backup.json');
  const metadata = { provider: 'memory', exported_at: '2026-01-11T10:00:00Z', collections: Object.keys(data) };
  writeFileSync(file, stringifyExact({ metadata, data }, 2));
  return { file, data };
}

test('file → CouchDB → file.json.gz is exact', async () => {
  const { file, data } = exportOf(uniquePrefix());
  const imported = await migrate({ from: `file:${file}`, to: couchUri, ...quiet });
  for (const [collection, docs] of Object.entries(data)) {
    expect(imported.collections[collection]).toMatchObject({ read: docs.length, written: docs.length, failed: 0 });
  }

  const backup = join(mkdtempSync(join(tmpdir(), 'couch-backup-')), 'backup.json.gz');
  const exported = await migrate({ from: couchUri, to: `file:${backup}`, collections: Object.keys(data), ...quiet });
  expect(exported.ok).toBe(true);
  const written = parseJson(gunzipSync(readFileSync(backup)).toString('utf8')) as { metadata: { provider: string }; data: Record<string, Doc[]> };
  expect(written.metadata.provider).toBe('couchdb');
  expect(Object.keys(written.data).sort()).toEqual(Object.keys(data).sort());
  for (const [collection, docs] of Object.entries(data)) expect(sortById(written.data[collection]!)).toEqual(sortById(docs));
});

test('importing the same backup again over its own documents overwrites them', async () => {
  const { file, data } = exportOf(uniquePrefix());
  await migrate({ from: `file:${file}`, to: couchUri, ...quiet });
  const again = await migrate({ from: `file:${file}`, to: couchUri, onConflict: 'overwrite', ...quiet });
  expect(again.ok).toBe(true);
  for (const [collection, docs] of Object.entries(data)) {
    expect(again.collections[collection]).toMatchObject({ written: docs.length, failed: 0, skipped: 0 });
  }
  const skipped = await migrate({ from: `file:${file}`, to: couchUri, onConflict: 'skip', ...quiet });
  const total = Object.values(data).reduce((n, docs) => n + docs.length, 0);
  expect(skipped.total).toMatchObject({ written: 0, skipped: total, failed: 0 });
});
