/**
 * Firestore values as JSON: Timestamp → ISO 8601 string, GeoPoint → {latitude, longitude},
 * Bytes → base64, DocumentReference → its path, Vector → its numbers. Numbers keep their kind:
 * an int64 stays an integer (exact beyond 2^53), a double stays a double even when integral (2.0).
 */
import { ExactNumber } from '../../formats/exact-number.js';
import { isoTimestamp } from '../../formats/timestamp.js';
import type { Doc, JsonValue } from '../../types.js';
import type { FirestoreSdk } from './client.js';

/** The SDK classes a decoder recognises (passed in, so this module does not load the SDK). */
export type DecoderTypes = Pick<FirestoreSdk, 'Timestamp' | 'GeoPoint' | 'DocumentReference' | 'VectorValue'>;

/** Called for a value JSON cannot carry (NaN, ±Infinity), with its field path; the value becomes null. */
export type OnUnrepresentable = (path: string, description: string) => void;

export function createDecoder(types: DecoderTypes, onUnrepresentable: OnUnrepresentable) {
  const decode = (value: unknown, path: string): JsonValue => {
    if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
    if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : new ExactNumber(value.toString());
    if (typeof value === 'number') return decodeDouble(value, path);
    if (value instanceof types.Timestamp) return isoTimestamp(value.seconds, value.nanoseconds);
    if (value instanceof types.GeoPoint) return { latitude: value.latitude, longitude: value.longitude };
    if (value instanceof types.DocumentReference) return value.path;
    if (value instanceof types.VectorValue) return value.toArray().map((n, i) => decodeDouble(n, `${path}[${i}]`));
    if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
    if (Array.isArray(value)) return value.map((item, i) => decode(item, `${path}[${i}]`));
    if (typeof value === 'object') {
      const out: { [key: string]: JsonValue } = {};
      for (const [key, item] of Object.entries(value)) out[key] = decode(item, path ? `${path}.${key}` : key);
      return out;
    }
    onUnrepresentable(path, `a value of type ${typeof value}`);
    return null;
  };

  const decodeDouble = (value: number, path: string): JsonValue => {
    if (!Number.isFinite(value)) {
      onUnrepresentable(path, String(value));
      return null;
    }
    if (Object.is(value, -0)) return new ExactNumber('-0.0');
    // An integral double would print as an integer (`2`) and come back as one: keep it a float.
    const text = String(value);
    return /^-?\d+$/.test(text) ? new ExactNumber(`${text}.0`) : value;
  };

  return (data: { [key: string]: unknown }): { [key: string]: JsonValue } => decode(data, '') as { [key: string]: JsonValue };
}

/** A Firestore document as Gofannon lays it out: `_id` is the document id (a stored `_id` field never wins). */
export function documentWithId(id: string, data: { [key: string]: JsonValue }): Doc {
  const doc: Doc = { _id: id };
  for (const key of Object.keys(data)) if (key !== '_id') doc[key] = data[key]!;
  return doc;
}
