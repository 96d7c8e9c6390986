/**
 * Shard reports added into the report of the whole run (`gofannon-etl report merge`, and the parent
 * of `--workers`): counts summed per collection, the longest duration, every dead-letter file named.
 * Reports of different runs, the same shard twice, or a missing shard are refused: a merged report
 * must never stand for a migration it does not cover.
 */
import { usageError } from '../errors.js';
import type { CollectionStats, PlannedCollection, RunReport, Shard } from '../types.js';
import { addStats, emptyStats, mergeStats, totalOf } from './stats.js';

/** What makes shard reports parts of one run: the same source, target, transforms, and dryness. */
const sameRunFields = ['source', 'target', 'transforms', 'dryRun'] as const;

const shardName = (shard: Shard) => `${shard.index}/${shard.count}`;

/** Throws the usage error saying why these reports are not the shards of one run. */
function checkSameRun(reports: readonly RunReport[], names: readonly string[]): void {
  const first = reports[0]!;
  for (const [i, report] of reports.entries()) {
    for (const field of sameRunFields) {
      if (JSON.stringify(report[field]) !== JSON.stringify(first[field])) {
        throw usageError('reports-differ', `${names[i]} is a report of another run than ${names[0]}: ${field} ${JSON.stringify(report[field])}, not ${JSON.stringify(first[field])}`);
      }
    }
  }
}

/** Throws when some reports name their shard and others do not, a shard comes twice, counts differ, or a shard is missing. */
function checkShards(reports: readonly RunReport[], names: readonly string[]): void {
  const withShard = reports.filter((r) => r.shard);
  if (withShard.length === 0) return;
  if (withShard.length < reports.length) {
    const unsharded = names.filter((_, i) => !reports[i]!.shard);
    throw usageError('reports-differ', `${unsharded.join(', ')} ${unsharded.length === 1 ? 'is a report' : 'are reports'} of a whole run, not of a shard like ${names[reports.indexOf(withShard[0]!)]}`);
  }
  const count = withShard[0]!.shard!.count;
  const seen = new Map<number, string>();
  for (const [i, report] of reports.entries()) {
    const shard = report.shard!;
    if (shard.count !== count) throw usageError('reports-differ', `${names[i]} is shard ${shardName(shard)}, of another split than ${names[0]} (${shardName(reports[0]!.shard!)})`);
    const other = seen.get(shard.index);
    if (other !== undefined) throw usageError('reports-differ', `${other} and ${names[i]} are both shard ${shardName(shard)}`);
    seen.set(shard.index, names[i]!);
  }
  const missing = Array.from({ length: count }, (_, k) => k).filter((k) => !seen.has(k));
  if (missing.length > 0) throw usageError('reports-differ', `missing the report of shard ${missing.map((k) => `${k}/${count}`).join(', ')}: a merged report must cover every shard`);
}

/** Plans of a dry run: per collection, the first thing some shard would create. */
function mergePlans(reports: readonly RunReport[]): PlannedCollection[] {
  const plans = new Map<string, PlannedCollection>();
  for (const plan of reports.flatMap((r) => r.plan ?? [])) {
    const known = plans.get(plan.collection);
    if (!known || (!known.wouldCreate && plan.wouldCreate)) plans.set(plan.collection, plan);
  }
  return [...plans.values()];
}

/**
 * The reports of a run's shards added into one. `names` say which is which in refusals (file
 * names; default `report 1`, `report 2`, …). Throws a usage error for reports that are not exactly
 * the shards of one run.
 */
export function mergeReports(reports: readonly RunReport[], names: readonly string[] = reports.map((_, i) => `report ${i + 1}`)): RunReport {
  if (reports.length === 0) throw usageError('reports-differ', 'no report to merge');
  checkSameRun(reports, names);
  checkShards(reports, names);
  const first = reports[0]!;
  let collections: Record<string, CollectionStats> = {};
  let earlier: CollectionStats | undefined;
  for (const report of reports) {
    collections = mergeStats(collections, report.collections);
    if (report.earlier) earlier = addStats(earlier ?? emptyStats(), report.earlier);
  }
  const paths = [...new Set(reports.flatMap((r) => r.deadLetters.paths ?? (r.deadLetters.path ? [r.deadLetters.path] : [])))];
  const checkpoints = new Set(reports.map((r) => r.checkpoint));
  const errors = reports.flatMap((r, i) => (r.error ? [`${r.shard ? `shard ${shardName(r.shard)}` : names[i]}: ${r.error}`] : []));
  const problems = [...new Set(reports.flatMap((r) => r.problems ?? []))];
  return {
    ok: reports.every((r) => r.ok),
    interrupted: reports.some((r) => r.interrupted),
    dryRun: first.dryRun,
    source: first.source,
    target: first.target,
    transforms: first.transforms,
    collections,
    total: totalOf(collections),
    // The shards ran side by side: the run took as long as the slowest.
    durationMs: Math.max(...reports.map((r) => r.durationMs)),
    deadLetters: { count: reports.reduce((n, r) => n + r.deadLetters.count, 0), ...(paths.length > 0 ? { paths } : {}) },
    // One name only when every shard used it; per-shard files are named in each shard's report.
    ...(checkpoints.size === 1 && first.checkpoint ? { checkpoint: first.checkpoint } : {}),
    resumable: reports.every((r) => r.resumable),
    ...(first.dryRun ? { plan: mergePlans(reports), problems } : {}),
    ...(errors.length > 0 ? { error: errors.join('; ') } : {}),
    ...(earlier ? { earlier } : {}),
  };
}
