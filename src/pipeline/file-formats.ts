/**
 * Which side of a run `--format` describes. One option serves both because a run rarely has two
 * files whose names say nothing: a format we write goes to a target whose name does not tell
 * (`file:-`, `file:backup`, a FIFO); otherwise to the file source, where it forces how the file is
 * read; a format only a source can have (couchbackup, …) always to the source. Where it could only
 * contradict a name, or has no file to describe, it is refused rather than ignored.
 */
import { usageError } from '../errors.js';
import { formatFromName } from '../formats/file-name.js';
import { isForeignFormat, type InputFormat } from '../formats/input-format.js';

/** `fromFile`/`toFile`: the paths of the run's file stores (undefined where the store is not a file). */
export function formatOfEachSide(format: InputFormat | undefined, fromFile: string | undefined, toFile: string | undefined): { source?: InputFormat; target?: InputFormat } {
  if (format === undefined) return {};
  if (fromFile === undefined && toFile === undefined) throw usageError('bad-option', '--format describes a file: source or target, and this run has none');
  if (isForeignFormat(format)) {
    if (fromFile === undefined) throw usageError('bad-option', `--format ${format} describes a file source; gofannon-etl writes json or ndjson`);
    return { source: format };
  }
  const fromNamed = fromFile === undefined ? undefined : formatFromName(fromFile).format;
  const toNamed = toFile === undefined ? undefined : formatFromName(toFile).format;
  if (toFile !== undefined && toNamed === undefined) return { target: format };
  if (fromFile !== undefined && (toFile === undefined || fromNamed === undefined || fromNamed === format)) return { source: format };
  if (toNamed === format) return {};
  throw usageError('bad-option', `--format ${format} contradicts the target's name file:${toFile}, which says ${toNamed}`);
}
