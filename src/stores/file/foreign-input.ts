/**
 * Reading other tools' backups through the file source: which reader reads which format, and what
 * a file that holds one collection is called. (A DynamoDB export is a folder: see
 * dynamodb-export-folder.ts.)
 */
import { basename } from 'node:path';
import { notTheExportFolder } from './dynamodb-export-folder.js';
import { usageError } from '../../errors.js';
import { readCouchbackup } from '../../formats/couchbackup.js';
import { readDocumentArray } from '../../formats/document-array.js';
import type { ExportMetadata } from '../../formats/export-metadata.js';
import { readFirestoreExport } from '../../formats/firestore-export.js';
import { resumeEntries, type ForeignReadOptions } from '../../formats/foreign-chunks.js';
import { type ForeignFormat, foreignProvider, holdsOneCollection, inputFormats, isInputFormat, type InputFormat } from '../../formats/input-format.js';
import type { Position, SourceChunk } from '../../types.js';

const readers: Record<Exclude<ForeignFormat, 'dynamodb-export'>, (input: AsyncIterable<Buffer>, options: ForeignReadOptions) => AsyncGenerator<SourceChunk>> = {
  couchbackup: readCouchbackup,
  array: readDocumentArray,
  'firestore-export': readFirestoreExport,
};

/** `--format` checked at run time (library callers pass any string). */
export function checkedFormat(format: string | undefined): InputFormat | undefined {
  if (format === undefined || isInputFormat(format)) return format;
  throw usageError('bad-option', `--format must be one of ${inputFormats.join(', ')}, not ${JSON.stringify(format)}`);
}

/**
 * The collection of a one-collection file: `--collection-name`, else the file's name without its
 * extensions (`backups/agents.txt` and `agents.json.gz` → `agents`); undefined for stdin without one.
 */
export function collectionOf(path: string, collectionName: string | undefined): string | undefined {
  return collectionName ?? (path === '-' ? undefined : basename(path).replace(/\.gz$/i, '').replace(/\.[^.]*$/, ''));
}

/** What a foreign file is known to hold before it is read, as export metadata (the provider it came from, its one collection). */
export function foreignMetadata(format: ForeignFormat, collection: string | undefined): ExportMetadata {
  return { provider: foreignProvider[format], collections: holdsOneCollection(format) && collection !== undefined ? [collection] : undefined };
}

export function readForeign(
  format: ForeignFormat,
  input: AsyncIterable<Buffer>,
  options: Omit<ForeignReadOptions, 'resume'> & { resumeFrom?: Position },
): AsyncGenerator<SourceChunk> {
  if (format === 'dynamodb-export') throw notTheExportFolder(options.name);
  return readers[format](input, { ...options, resume: resumeEntries(options.resumeFrom, format, options.name) });
}
