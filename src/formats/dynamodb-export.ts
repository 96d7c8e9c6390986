/**
 * DynamoDB's export to S3, the texts of its folder (`AWSDynamoDB/<ExportId>/`):
 *
 * - `manifest-summary.json`: one object (`exportArn`, `tableArn`, `itemCount`, `outputFormat`,
 *   `exportType`, `manifestFilesS3Key`, …);
 * - `manifest-files.json`: a line per data file, `{"itemCount", "md5Checksum", "etag", "dataFileS3Key"}`;
 * - `data/<name>.json.gz`: a line per item, `{"Item": {<DynamoDB JSON>}}`.
 *
 * One table an export, so one collection: named after the table (the manifest's `tableArn`, else
 * its `exportArn`); the folder's name when the manifest names neither. Only full exports in
 * DYNAMODB_JSON are read: an incremental export holds changes, not a table, and ION is another syntax.
 */
import { fatalError, usageError } from '../errors.js';
import type { SourceChunk } from '../types.js';
import { docFromItem, type DynamoItem } from './dynamodb-json.js';
import { ExactNumber } from './exact-number.js';
import { InputError } from './export-reader.js';
import type { ChunkBuilder } from './foreign-chunks.js';
import { readJsonLines } from './json-lines.js';

export interface ExportSummary {
  /** The table, from the ARNs; undefined when the manifest names none. */
  table?: string;
  exportArn?: string;
  itemCount?: number;
}

export interface DataFile {
  /** The object's key in the bucket (`…/AWSDynamoDB/<ExportId>/data/<name>.json.gz`). */
  key: string;
  itemCount?: number;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof ExactNumber);

/** `arn:aws:dynamodb:<region>:<account>:table/<name>[/export/<id>]` → `<name>`. */
export function tableFromArn(arn: unknown): string | undefined {
  return typeof arn === 'string' ? /:table\/([^/]+)/.exec(arn)?.[1] : undefined;
}

function parseManifest(text: string, name: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw fatalError('malformed-input', `${name}: not JSON (${(error as Error).message})`, error);
  }
}

export function parseSummary(text: string, name: string): ExportSummary {
  const summary = parseManifest(text, name);
  if (!isObject(summary)) throw fatalError('malformed-input', `${name}: not a DynamoDB export manifest (expected an object)`);
  if (summary.exportType !== undefined && summary.exportType !== 'FULL_EXPORT') {
    throw usageError('unsupported-export', `${name}: an ${String(summary.exportType)} holds changes, not a table; export the table in full (FULL_EXPORT)`);
  }
  const format = summary.outputFormat ?? summary.exportFormat;
  if (format !== undefined && format !== 'DYNAMODB_JSON') {
    throw usageError('unsupported-export', `${name}: the export is in ${String(format)}; gofannon-etl reads DYNAMODB_JSON exports`);
  }
  return {
    table: tableFromArn(summary.tableArn) ?? tableFromArn(summary.exportArn),
    exportArn: typeof summary.exportArn === 'string' ? summary.exportArn : undefined,
    itemCount: typeof summary.itemCount === 'number' ? summary.itemCount : undefined,
  };
}

export function parseFilesManifest(text: string, name: string): DataFile[] {
  const files: DataFile[] = [];
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    const entry = parseManifest(line, `${name} line ${index + 1}`);
    if (!isObject(entry) || typeof entry.dataFileS3Key !== 'string') {
      throw fatalError('malformed-input', `${name} line ${index + 1}: expected {"dataFileS3Key": …, "itemCount": …}`);
    }
    files.push({ key: entry.dataFileS3Key, itemCount: typeof entry.itemCount === 'number' ? entry.itemCount : undefined });
  });
  return files;
}

/**
 * The items of one data file into `chunks` (its chunks yielded as they fill); returns how many
 * items the file held. An item DynamoDB JSON cannot describe is dead-lettered; a line that is not
 * `{"Item": …}` stops the read.
 */
export async function* readDataFile(
  input: AsyncIterable<Buffer>,
  options: { name: string; collection: string; chunks: ChunkBuilder; signal: AbortSignal },
): AsyncGenerator<SourceChunk, number> {
  const { name, collection, chunks } = options;
  let items = 0;
  for await (const lines of readJsonLines(input, { signal: options.signal, collection })) {
    for (const { value, number, start } of lines) {
      if (!isObject(value) || !isObject(value.Item)) throw new InputError(`line ${number}: expected {"Item": {…}} (a full export's item)`, start, collection);
      items++;
      if (!chunks.next(collection)) continue;
      const where = `${name} line ${number}`;
      try {
        chunks.add(docFromItem(value.Item as DynamoItem), where);
      } catch (error) {
        const reason = error instanceof RangeError ? 'nesting too deep' : (error as Error).message;
        chunks.refuse(value.Item, `not DynamoDB JSON: ${reason}`, where);
      }
    }
    yield* chunks.take();
  }
  return items;
}
