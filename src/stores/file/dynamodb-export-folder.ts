/**
 * A DynamoDB export-to-S3 folder on disk as a source (`--from file:exports/AWSDynamoDB/<ExportId>`,
 * the folder above it when it holds one export, or its manifest-summary.json). What the files mean
 * is src/json/dynamodb-export.ts; this is finding them, checking the download is whole, and reading
 * the data files in the manifest's order, gunzipped on the fly.
 *
 * A data file is found at `data/<name>` next to the manifests, whatever bucket prefix its key had
 * (or without its `.gz` when it was unpacked). The manifest's item counts are checked, per file and
 * in total; its md5Checksum is not: gzip's own CRC and length, and the counts, already catch a
 * damaged or partial download, without reading every file twice.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { fatalError, usageError } from '../../errors.js';
import { openInput } from './input.js';
import { parseFilesManifest, parseSummary, readDataFile, type ExportSummary } from '../../formats/dynamodb-export.js';
import { InputError } from '../../formats/export-reader.js';
import { ChunkBuilder, resumeEntries } from '../../formats/foreign-chunks.js';
import type { AdapterOptions, Source, SourceChunk, SourceReadOptions } from '../../types.js';

const summaryName = 'manifest-summary.json';
const filesName = 'manifest-files.json';

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() ?? false;
}

/**
 * The export folder `path` names: itself when it holds manifest-summary.json, else the one export
 * under its `AWSDynamoDB/`; undefined when it is not a folder of an export.
 */
export async function findExportFolder(path: string): Promise<string | undefined> {
  if (!(await stat(path).catch(() => undefined))?.isDirectory()) return undefined;
  if (await isFile(join(path, summaryName))) return path;
  const root = join(path, 'AWSDynamoDB');
  const ids = await readdir(root).catch(() => [] as string[]);
  const exports: string[] = [];
  for (const id of ids.sort()) if (await isFile(join(root, id, summaryName))) exports.push(join(root, id));
  if (exports.length > 1) {
    throw usageError('ambiguous-export', `${path} holds ${exports.length} DynamoDB exports (${exports.map((e) => basename(e)).join(', ')}): name one, e.g. file:${exports[0]}`);
  }
  return exports[0];
}

interface Located {
  path: string;
  size: number;
  itemCount?: number;
}

/** Each data file on disk, in the manifest's order; a missing one is a usage error (the download is incomplete). */
async function locateDataFiles(folder: string, manifest: string): Promise<Located[]> {
  const located: Located[] = [];
  for (const file of parseFilesManifest(await readFile(join(folder, filesName), 'utf8'), manifest)) {
    const packed = join(folder, 'data', basename(file.key));
    const unpacked = packed.replace(/\.gz$/, '');
    const path = (await isFile(packed)) ? packed : (await isFile(unpacked)) ? unpacked : undefined;
    if (!path) throw usageError('file-not-found', `${packed}: listed in ${manifest} but missing; the export's download is incomplete`);
    located.push({ path, size: (await stat(path)).size, itemCount: file.itemCount });
  }
  return located;
}

/** For a file that is a piece of an export (a data file), stdin, or no export at all. */
export function notTheExportFolder(name: string): Error {
  return usageError('not-an-export', `${name}: a DynamoDB export is read as its folder; name the folder that holds ${summaryName}`);
}

/** `name` is what the user gave: the folder, the one above it, or a file in it (its manifest, or a data file). */
export async function dynamodbExportSource(name: string, folder: string, options: AdapterOptions): Promise<Source> {
  const summaryPath = join(folder, summaryName);
  if (!(await isFile(summaryPath))) throw notTheExportFolder(name);
  const summary: ExportSummary = parseSummary(await readFile(summaryPath, 'utf8'), summaryPath);
  const files = await locateDataFiles(folder, join(folder, filesName));
  const collection = options.collectionName ?? summary.table ?? basename(resolve(folder));
  const manifest = await stat(join(folder, filesName));
  let done = 0;
  let total = files.reduce((sum, f) => sum + f.size, 0);

  return {
    label: `file:${name}`,
    provider: 'dynamodb',
    identity: async () => `dynamodb-export:${resolve(folder)} ${summary.exportArn ?? ''} files=${manifest.size}@${new Date(manifest.mtimeMs).toISOString()}`,
    listCollections: async () => [collection],
    count: async (wanted) => (wanted === collection ? summary.itemCount : undefined),
    progress: () => ({ done, total }),
    // DynamoDB writes an export as one data file per part of the table, of comparable sizes.
    splits: files.length > 1 ? `data files (shard k of N reads files k, k+N, ... of the ${files.length})` : undefined,

    async *read({ collections, resumeFrom, signal, shard }: SourceReadOptions): AsyncIterable<SourceChunk> {
      const resume = resumeEntries(resumeFrom, 'dynamodb-export', name);
      const chunks = new ChunkBuilder('dynamodb-export', { batchSize: options.batchSize ?? 1000, collections, resume });
      chunks.announce(collection);
      // A resumed shard counts its entries over its own files, as its first run did.
      const mine = shard && files.length > 1 ? files.filter((_, i) => i % shard.count === shard.index) : files;
      total = mine.reduce((sum, f) => sum + f.size, 0);
      done = 0;
      let items = 0;
      for (const file of mine) {
        if (file.itemCount !== undefined && chunks.skipUnread(file.itemCount)) {
          done += file.size;
          items += file.itemCount;
          continue;
        }
        const input = await openInput({ input: { path: file.path }, highWaterMark: 1 << 20, offset: 0, onRead: (bytes) => (done += bytes) });
        let count: number;
        try {
          count = yield* readDataFile(input.chunks, { name: file.path, collection, chunks, signal });
        } catch (error) {
          if (error instanceof InputError) throw fatalError('malformed-input', `${file.path}: ${error.reason} at byte ${error.offset}`, error);
          throw error;
        }
        if (file.itemCount !== undefined && count !== file.itemCount) {
          throw fatalError('malformed-input', `${file.path}: holds ${count} items where ${filesName} says ${file.itemCount}; the export's download is incomplete or damaged`);
        }
        items += count;
      }
      yield* chunks.end();
      if (mine === files && summary.itemCount !== undefined && items !== summary.itemCount) {
        throw fatalError('malformed-input', `${summaryPath}: says ${summary.itemCount} items where the data files hold ${items}; the export's download is incomplete`);
      }
    },
    close: async () => {},
  };
}
