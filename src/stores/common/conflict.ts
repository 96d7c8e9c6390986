/**
 * `--on-conflict` for a document whose `_id` the target already holds, the same in every store:
 * overwrite writes it again; skip and fail answer it without writing, in the same words everywhere,
 * so reports and dead letters read alike whichever store met the conflict.
 */
import type { OnConflict, WriteOutcome } from '../../types.js';

/** The answer for an existing `_id`; undefined for overwrite, where the document is written over it. */
export function conflictOutcome(onConflict: Exclude<OnConflict, 'overwrite'>, id: string): WriteOutcome;
export function conflictOutcome(onConflict: OnConflict, id: string): WriteOutcome | undefined;
export function conflictOutcome(onConflict: OnConflict, id: string): WriteOutcome | undefined {
  if (onConflict === 'skip') return { status: 'skipped', reason: 'exists in target' };
  if (onConflict === 'fail') return { status: 'failed', reason: `conflict: _id ${id} exists in target` };
  return undefined;
}
