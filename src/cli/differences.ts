/**
 * What verify says of the differences it finds. A terminal can show a few: the first ones are
 * printed as they are found, the rest only counted. `--report FILE` gets every one of them,
 * streamed into the file as they come, so a target missing millions of documents costs no memory.
 */
import { rename, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import type { Difference, DifferenceKind, VerifyReport } from '../verify/verify.js';
import { openPrivate } from '../util/private-file.js';

/** Lines a terminal is given before the rest are only counted. */
export const printedDifferences = 20;

export class DifferenceLog {
  private shown = 0;
  private readonly unshown: Record<DifferenceKind, number> = { missing: 0, changed: 0, extra: 0 };
  private file?: FileHandle;
  private pending: Promise<unknown> = Promise.resolve();
  private buffered = '';
  private count = 0;

  private constructor(
    private readonly say: (line: string) => void,
    private readonly reportPath: string | undefined,
  ) {}

  /** With a report path, its file is opened (mode 0600, under a temp name until complete) before anything is compared. */
  static async open(say: (line: string) => void, reportPath?: string): Promise<DifferenceLog> {
    const log = new DifferenceLog(say, reportPath);
    if (reportPath) {
      log.file = await openPrivate(log.temp(), 'w');
      await log.file.write('{\n  "differences": [');
    }
    return log;
  }

  private temp(): string {
    return `${this.reportPath}.${process.pid}.tmp`;
  }

  add(difference: Difference): void {
    if (this.shown < printedDifferences) {
      this.shown++;
      this.say(`${difference.kind.padEnd(8)} ${difference.collection} ${difference._id}`);
    } else this.unshown[difference.kind]++;
    if (this.file) {
      this.buffered += `${this.count++ === 0 ? '' : ','}\n    ${JSON.stringify(difference)}`;
      if (this.buffered.length >= 1 << 16) this.flush();
    }
  }

  /** Writes what is buffered, in order after earlier writes; the comparison does not wait for the disk. */
  private flush(): void {
    const file = this.file!;
    const text = this.buffered;
    this.buffered = '';
    this.pending = this.pending.then(() => file.write(text));
  }

  /** The line for what was counted but not printed; undefined when everything was printed. */
  rest(): string | undefined {
    const total = this.unshown.missing + this.unshown.changed + this.unshown.extra;
    if (total === 0) return undefined;
    const kinds = (Object.entries(this.unshown) as [DifferenceKind, number][]).filter(([, n]) => n > 0).map(([kind, n]) => `${n} ${kind}`);
    const where = this.reportPath ? `every one is in ${this.reportPath}` : 'verify --report FILE lists every one';
    return `... and ${total} more differences (${kinds.join(', ')}): ${where}`;
  }

  /** Finishes the report file with the comparison's counts; without `report` (a failed verify) removes it. */
  async close(report?: VerifyReport): Promise<void> {
    if (!this.file) return;
    this.flush();
    const file = this.file;
    this.file = undefined;
    try {
      await this.pending;
      if (report) {
        // The counts follow the list: `{` of the report's own JSON is the one already written.
        await file.write(`${this.count ? '\n  ' : ''}],${JSON.stringify(report, null, 2).slice(1)}\n`);
        await file.sync();
      }
    } finally {
      await file.close();
    }
    if (report) await rename(this.temp(), this.reportPath!);
    else await rm(this.temp(), { force: true });
  }
}
