/**
 * What the CLI prints at the end of a run: a table per collection and the lines that tell the user
 * what to do next.
 */
import type { RunReport } from './pipeline.js';
import type { VerifyReport } from './verify/verify.js';
import type { CollectionStats } from './types.js';

const columns: (keyof CollectionStats)[] = ['read', 'written', 'skipped', 'dropped', 'failed'];

export function formatTable(rows: [string, ...string[]][], header: string[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all
    .map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '))
    .join('\n');
}

export function rate(count: number, ms: number): string {
  return ms > 0 ? `${Math.round((count * 1000) / ms)}/s` : '-';
}

export function formatSummary(report: RunReport): string {
  const header = ['collection', ...(report.dryRun ? ['read', 'would write', 'skipped', 'dropped', 'would fail'] : columns)];
  const rows = Object.entries(report.collections).map(([name, s]) => [name, ...columns.map((c) => String(s[c]))] as [string, ...string[]]);
  rows.push(['total', ...columns.map((c) => String(report.total[c]))]);
  const seconds = (report.durationMs / 1000).toFixed(1);
  const lines = [
    '',
    formatTable(rows, header),
    '',
    `${report.dryRun ? 'Dry run' : report.interrupted ? 'Interrupted' : 'Done'} in ${seconds} s (${rate(report.total.read, report.durationMs)} read): ${report.source} -> ${report.target}`,
  ];
  if (report.deadLetters.count > 0) {
    lines.push(report.deadLetters.path
      ? `${report.deadLetters.count} documents could not be written; they are in ${report.deadLetters.path} with their reasons`
      : `${report.deadLetters.count} documents could not be written (give --dead-letter FILE to keep them)`);
  }
  return lines.join('\n');
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
