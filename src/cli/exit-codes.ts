/** Exit codes, and the one a run's report calls for: 0 ok, 1 documents failed, 2 usage, 3 fatal, 130 interrupted. */
import type { RunReport } from '../types.js';

export const exitCodes = { ok: 0, documentsFailed: 1, usage: 2, fatal: 3, interrupted: 130 } as const;

export function exitCodeOf(report: RunReport): number {
  if (report.interrupted) return exitCodes.interrupted;
  // A run that stopped on an error (a merged shard's), or a dry run that found the target unfit: the real run would stop there.
  if (report.error || report.problems?.length) return exitCodes.fatal;
  return report.total.failed > 0 ? exitCodes.documentsFailed : exitCodes.ok;
}

/** Of several processes' codes, the one that says the most: 130 (stopped) over 3 over 2 over 1 over 0. */
export function worstExitCode(codes: readonly number[]): number {
  const rank = [exitCodes.ok, exitCodes.documentsFailed, exitCodes.usage, exitCodes.fatal, exitCodes.interrupted] as number[];
  return codes.reduce((worst, code) => {
    // A code we do not know (a crash) is at least fatal.
    const known = rank.includes(code) ? code : exitCodes.fatal;
    return rank.indexOf(known) > rank.indexOf(worst) ? known : worst;
  }, exitCodes.ok as number);
}
