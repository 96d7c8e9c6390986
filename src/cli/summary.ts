/**
 * What the CLI prints at the end of a run: a table per collection and the lines that tell the user
 * what to do next.
 */
import type { VerifyReport } from '../verify/verify.js';
import type { CollectionStats, FollowProgress, FollowReport, RunReport } from '../types.js';

const columns: (keyof CollectionStats)[] = ['read', 'written', 'skipped', 'dropped', 'failed'];
/** With deletes (a follow, a change log): the counts, deletes included. */
const columnsWithDeletes: (keyof CollectionStats)[] = [...columns, 'deleted'];

export function formatTable(rows: [string, ...string[]][], header: string[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  // Counts line up on the right, names and descriptions on the left.
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => /^(\d+|-)$/.test(r[i] ?? '')));
  const line = (r: string[]) => r.map((cell, i) => (numeric[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd();
  return all.map(line).join('\n');
}

export function rate(count: number, ms: number): string {
  return ms > 0 ? `${Math.round((count * 1000) / ms)}/s` : '-';
}

/** What the user can run next, built by the CLI from its own arguments. */
export interface NextSteps {
  resume?: string;
  /** A follow that ended: the command that goes on following from where it ended. */
  followAgain?: string;
  verify?: string;
}

function formatPlan(report: RunReport): string[] {
  const creates = new Map((report.plan ?? []).map((p) => [p.collection, p.wouldCreate]));
  const rows = Object.entries(report.collections).map(
    ([name, s]) => [name, String(s.read), String(s.written), String(s.dropped), String(s.failed), creates.get(name) ?? '-'] as [string, ...string[]],
  );
  const problems = report.problems ?? [];
  return [
    'Plan (dry run: nothing was written)',
    `  source      ${report.source}`,
    `  target      ${report.target}`,
    `  transforms  ${report.transforms.join(', ') || 'none'}`,
    '',
    formatTable(rows, ['collection', 'documents', 'would write', 'dropped', 'would fail', 'would create']),
    ...(problems.length > 0 ? ['', `The target cannot take this run as it is; the run would stop before writing anything (${plural(problems.length, 'problem')}):`, ...problems.map((p) => `  - ${p}`)] : []),
  ];
}

export function formatSummary(report: RunReport, next: NextSteps = {}): string {
  const lines = [''];
  if (report.dryRun) lines.push(...formatPlan(report));
  else {
    const shown = report.follow || report.total.deleted > 0 ? columnsWithDeletes : columns;
    const rows = Object.entries(report.collections).map(([name, s]) => [name, ...shown.map((c) => String(s[c] ?? 0))] as [string, ...string[]]);
    rows.push(['total', ...shown.map((c) => String(report.total[c] ?? 0))]);
    lines.push(formatTable(rows, ['collection', ...shown]));
  }
  const seconds = (report.durationMs / 1000).toFixed(1);
  const state = report.dryRun ? 'Dry run' : report.interrupted ? 'Interrupted' : report.error ? 'Stopped by an error' : report.total.failed > 0 ? 'Finished with failures' : 'Done';
  // The pace is this run's own: the earlier runs' documents took their own time.
  const readNow = report.total.read - (report.earlier?.read ?? 0);
  const share = report.shard ? ` (shard ${report.shard.index}/${report.shard.count})` : '';
  lines.push('', `${state} in ${seconds} s, ${rate(readNow, report.durationMs)}: ${report.source} -> ${report.target}${share}`);
  if (report.follow) lines.push(...formatFollow(report.follow));
  if (report.earlier) {
    const from = report.checkpoint ? ` (from ${report.checkpoint})` : '';
    lines.push(`The counts cover the whole migration, including ${plural(report.earlier.written, 'document')} written by the earlier run(s)${from}.`);
  }
  if (report.deadLetters.count > 0) {
    const what = report.dryRun ? 'would fail' : 'could not be written';
    // A merged report (shards, --workers) names every shard's file.
    const where = report.deadLetters.paths?.join(', ') ?? report.deadLetters.path;
    lines.push(where
      ? `${plural(report.deadLetters.count, "document")} ${what}; they are in ${where} with their reasons`
      : `${plural(report.deadLetters.count, "document")} ${what} (reasons above; give --dead-letter FILE to keep them all)`);
  }
  if (next.resume) lines.push(`To continue where it stopped: ${next.resume}`);
  if (next.followAgain) lines.push(`To go on following from where it ended: ${next.followAgain}`);
  if (next.verify) lines.push(`To check the target document by document: ${next.verify}`);
  return lines.join('\n');
}

/** What following did: changes applied, their pace, how far behind the source it ended. */
function formatFollow(follow: FollowReport): string[] {
  const lines = [`Following: ${plural(follow.applied, 'change')} applied in ${(follow.elapsedMs / 1000).toFixed(1)} s, ${rate(follow.applied, follow.elapsedMs)}; ${formatLag(follow)}.`];
  if (follow.reapplied > 0) {
    lines.push(`At most ${plural(follow.reapplied, 'change')} the earlier run may have sent ${follow.reapplied === 1 ? 'was' : 'were'} applied again (writes and deletes by _id are idempotent).`);
  }
  return lines;
}

/** `caught up with the source`, or how far behind it, in changes and seconds where the feed says. */
export function formatLag(follow: Pick<FollowProgress, 'lag' | 'caughtUp'>): string {
  if (follow.caughtUp) return 'caught up with the source';
  const { changes, seconds } = follow.lag ?? {};
  const parts = [changes !== undefined ? plural(changes, 'change') : undefined, seconds !== undefined ? `${seconds.toFixed(1)} s` : undefined].filter(Boolean);
  return parts.length > 0 ? `${parts.join(', ')} behind the source` : 'lag unknown';
}

export function formatComparison(report: VerifyReport): string {
  const fields = ['source', 'target', 'matched', 'missing', 'changed', 'extra'] as const;
  const rows = Object.entries(report.collections).map(([name, c]) => [name, ...fields.map((f) => String(c[f]))] as [string, ...string[]]);
  return [
    '',
    formatTable(rows, ['collection', ...fields]),
    '',
    report.identical ? `Identical: ${report.target} holds exactly what ${report.source} holds.` : `Different: ${report.source} and ${report.target} differ (see the lines above).`,
  ].join('\n');
}

export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
