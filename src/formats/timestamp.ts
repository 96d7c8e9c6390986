/**
 * Timestamps as documents carry them: RFC 3339 text in UTC, as Gofannon stores dates. Shared by the
 * Firestore source (native Timestamps) and the reader of Firestore export files (their tagged
 * `{_seconds, _nanoseconds}`), so both give the same text for the same instant.
 */

/** RFC 3339 with as many fraction digits as the nanoseconds need (3, 6 or 9). */
export function isoTimestamp(seconds: number, nanoseconds: number): string {
  const base = new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, '');
  const fraction = String(nanoseconds).padStart(9, '0');
  const digits = nanoseconds % 1_000_000 === 0 ? 3 : nanoseconds % 1000 === 0 ? 6 : 9;
  return `${base}.${fraction.slice(0, digits)}Z`;
}
