/**
 * Groups encoded documents into WriteBatch commits within Firestore's limits: 500 writes and a
 * 10 MiB request. The request size is an estimate (see encode.ts), so the budget keeps a margin.
 */
export const MAX_WRITES_PER_COMMIT = 500;
export const MAX_REQUEST_BYTES = 9 * 1024 * 1024;

export function groupForCommits<T extends { requestBytes: number }>(items: T[], maxWrites = MAX_WRITES_PER_COMMIT, maxBytes = MAX_REQUEST_BYTES): T[][] {
  const groups: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    if (current.length > 0 && (current.length >= maxWrites || bytes + item.requestBytes > maxBytes)) {
      groups.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += item.requestBytes;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}
