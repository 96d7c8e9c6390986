/**
 * Stores refuse a whole batch for one bad document (DynamoDB's ValidationException, CouchDB
 * validating every document before writing any, a Firestore commit). Halving the batch finds the
 * document to blame in O(log n) attempts, and every other document is still written.
 */
export async function writeIsolating<T>(
  group: T[],
  /** Writes the group; throws when the store refuses it (or fails otherwise). */
  attempt: (group: T[]) => Promise<void>,
  /** Whether an error is a refusal of the group that halving can pin on one document. */
  isRefusal: (error: unknown) => boolean,
  /** Records the refusal against the one document left. */
  blame: (item: T, error: unknown) => void,
): Promise<void> {
  try {
    await attempt(group);
  } catch (error) {
    if (!isRefusal(error)) throw error;
    if (group.length === 1) return blame(group[0]!, error);
    const half = Math.ceil(group.length / 2);
    await writeIsolating(group.slice(0, half), attempt, isRefusal, blame);
    await writeIsolating(group.slice(half), attempt, isRefusal, blame);
  }
}
