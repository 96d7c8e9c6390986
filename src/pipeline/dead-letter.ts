import type { FileHandle } from 'node:fs/promises';
import { Unreadable } from '../formats/limits.js';
import { stringifyExact } from '../formats/serialize.js';
import { openPrivate } from '../util/private-file.js';
import { redact } from '../util/redact.js';
import type { FailedDocument } from '../types.js';


/** How many reasons are printed when no dead-letter file was given; the summary counts the rest. */
const printedWithoutFile = 20;

/**
 * The documents a run could not write, one JSON line each with its reason, so nothing is lost
 * silently. Without a file the reasons are printed (the first few) and counted in the summary.
 */
export class DeadLetters {
  count = 0;
  private handle?: Promise<FileHandle>;
  private pending: string[] = [];

  constructor(
    readonly path: string | undefined,
    private readonly append: boolean,
    private readonly warn: (message: string) => void,
    /** Told of every one as it fails (a library caller's handler, a stream's 'failed' event). */
    private readonly onFailed?: (entry: FailedDocument) => void,
  ) {}

  add(entry: FailedDocument): void {
    this.count++;
    const reason = redact(entry.reason);
    this.onFailed?.({ ...entry, reason });
    if (!this.path) {
      if (this.count <= printedWithoutFile) {
        this.warn(`failed: ${entry.collection} ${entry._id === undefined ? '(no _id)' : `_id ${String(entry._id)}`}${entry.where ? ` (${entry.where})` : ''}: ${reason}`);
      } else if (this.count === printedWithoutFile + 1) {
        this.warn('more documents failed; give --dead-letter FILE to keep them all with their reasons');
      }
      return;
    }
    // A document that could not be read as a value is kept as the bytes it was read from, when there are any.
    const kept = entry.doc instanceof Unreadable ? { bytes: entry.doc.bytes?.toString('base64') } : { doc: entry.doc };
    this.pending.push(stringifyExact({ collection: entry.collection, _id: entry._id, reason, where: entry.where, ...kept }) + '\n');
  }

  /** Writes what was added and syncs it: a checkpoint may only count documents whose dead letter is on disk. */
  async flush(): Promise<void> {
    if (!this.path || this.pending.length === 0) return;
    this.handle ??= openPrivate(this.path, this.append ? 'a' : 'w');
    const handle = await this.handle;
    const lines = this.pending.join('');
    this.pending = [];
    await handle.write(lines);
    await handle.sync();
  }

  async close(): Promise<void> {
    await this.flush();
    if (this.handle) await (await this.handle).close();
  }
}
