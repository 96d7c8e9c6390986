/**
 * `gofannon-etl report merge part-*.json [--out merged.json]`: the reports of a run's shards (job
 * array tasks, or `--workers`) added into the report of the whole run. Without --out the merged
 * report goes to stdout as JSON; with it, to that file (0600) and the summary to stdout. The exit
 * code is the merged run's, so a job's last step fails when a shard did.
 */
import { readFile } from 'node:fs/promises';
import { usageError } from '../errors.js';
import { mergeReports } from '../pipeline.js';
import type { RunReport } from '../types.js';
import { writePrivateAtomic } from '../util/private-file.js';
import { exitCodeOf } from './exit-codes.js';
import { formatSummary } from './summary.js';

/** A report file as `--report` wrote it; anything else is refused with its name. */
export async function readRunReport(path: string): Promise<RunReport> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw usageError('file-not-found', `${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, error);
  }
  let report: Partial<RunReport>;
  try {
    report = JSON.parse(text) as Partial<RunReport>;
  } catch {
    throw usageError('file-unreadable', `${path}: not JSON, so not a report --report wrote`);
  }
  if (typeof report !== 'object' || report === null || typeof report.collections !== 'object' || typeof report.total !== 'object' || typeof report.source !== 'string') {
    throw usageError('file-unreadable', `${path}: not a run report (no source, collections and total)`);
  }
  return report as RunReport;
}

/** Writes the merged report where asked (or prints it) and answers the exit code of the whole run. */
export async function runReportMerge(paths: string[], out: string | undefined, say: (line: string) => void): Promise<number> {
  const reports = await Promise.all(paths.map(readRunReport));
  const merged = mergeReports(reports, paths);
  const json = `${JSON.stringify(merged, null, 2)}\n`;
  if (out === undefined) process.stdout.write(json);
  else {
    await writePrivateAtomic(out, json).catch((error: NodeJS.ErrnoException) => {
      throw usageError('file-unwritable', `--out ${out}: cannot write it (${error.code ?? error.message})`, error);
    });
    say(formatSummary(merged));
    say(`Merged ${paths.length} shard reports into ${out}`);
  }
  return exitCodeOf(merged);
}
