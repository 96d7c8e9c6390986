/**
 * A document as the Firestore SDK takes it, with every limit Firestore would enforce checked first,
 * so one document it cannot hold is refused alone, with its reason, instead of failing a batch.
 * Sizes follow https://firebase.google.com/docs/firestore/storage-size.
 */
import { ExactNumber } from '../../formats/exact-number.js';
import type { Doc, JsonValue } from '../../types.js';
import { storedNumber } from './numbers.js';

export const MAX_DOCUMENT_BYTES = 1024 * 1024;
export const MAX_DEPTH = 20;
const MAX_ID_BYTES = 1500;

/**
 * A double whose value is integral (`2.0`): the SDK would send a JS number 2 as an integer, so this
 * uses the SDK's ProtoValue hook (serializer `_toProto`) to send a doubleValue.
 */
class DoubleValue {
  readonly _protoValueType = 'ProtoValue';
  constructor(readonly value: number) {}
  _toProto(): { doubleValue: number } {
    return { doubleValue: this.value };
  }
}

export type FirestoreData = { [key: string]: unknown };

export type Encoded =
  | { ok: true; id: string; data: FirestoreData; storedBytes: number; requestBytes: number }
  | { ok: false; reason: string };

/** Per field or value: a generous bound on protobuf tags and lengths, for the 10 MiB request limit. */
const WIRE_OVERHEAD = 8;

class Refused extends Error {}

const utf8 = (s: string) => Buffer.byteLength(s, 'utf8');
const reserved = (name: string) => /^__.*__$/.test(name);
/** Firestore strings are UTF-8; a lone surrogate would be replaced on the way, changing the text. */
const wellFormed = (s: string) => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

/** Why Firestore cannot use this as a collection id or document id; undefined when it can. */
export function badName(kind: 'collection' | 'document id', name: string): string | undefined {
  if (name === '') return `${kind} is empty`;
  if (name.includes('/')) return `${kind} "${name}" contains "/", which Firestore reads as a path`;
  if (name === '.' || name === '..') return `${kind} "${name}" is not allowed by Firestore`;
  if (reserved(name)) return `${kind} "${name}" has the form __x__, which Firestore reserves`;
  if (utf8(name) > MAX_ID_BYTES) return `${kind} is longer than ${MAX_ID_BYTES} bytes`;
  if (!wellFormed(name)) return `${kind} has an unpaired surrogate (not valid UTF-8)`;
  return undefined;
}

export function encodeDoc(doc: Doc, collection: string): Encoded {
  const id = doc._id;
  if (typeof id !== 'string') return { ok: false, reason: '_id is not a string' };
  const badId = badName('document id', id);
  if (badId) return { ok: false, reason: badId };
  const sizes = { stored: 0, wire: 0 };
  try {
    const data: FirestoreData = {};
    for (const key of Object.keys(doc)) {
      // `_id` is the document id; Gofannon re-adds the field from it when reading.
      if (key === '_id') continue;
      data[key] = encodeField(key, doc[key]!, key, 1, sizes);
    }
    const nameBytes = utf8(collection) + 1 + utf8(id) + 1 + 16;
    const storedBytes = nameBytes + sizes.stored + 32;
    if (storedBytes > MAX_DOCUMENT_BYTES) {
      return { ok: false, reason: `document is ${storedBytes} bytes as Firestore counts them, over its 1 MiB (${MAX_DOCUMENT_BYTES}) limit` };
    }
    return { ok: true, id, data, storedBytes, requestBytes: nameBytes + sizes.wire + 100 };
  } catch (error) {
    if (error instanceof Refused) return { ok: false, reason: error.message };
    throw error;
  }
}

function encodeField(key: string, value: JsonValue, path: string, depth: number, sizes: { stored: number; wire: number }): unknown {
  if (key === '') throw new Refused(`field "${path}" has an empty name, which Firestore does not allow`);
  if (reserved(key)) throw new Refused(`field "${path}" has the form __x__, which Firestore reserves`);
  if (!wellFormed(key)) throw new Refused(`field "${path}" has an unpaired surrogate in its name (not valid UTF-8)`);
  const bytes = utf8(key);
  sizes.stored += bytes + 1;
  sizes.wire += bytes + WIRE_OVERHEAD;
  return encodeValue(value, path, depth, sizes);
}

function encodeValue(value: JsonValue, path: string, depth: number, sizes: { stored: number; wire: number }): unknown {
  sizes.wire += WIRE_OVERHEAD;
  if (value === null || typeof value === 'boolean') {
    sizes.stored += 1;
    return value;
  }
  if (typeof value === 'string') {
    if (!wellFormed(value)) throw new Refused(`field "${path}" has an unpaired surrogate (not valid UTF-8)`);
    const bytes = utf8(value);
    sizes.stored += bytes + 1;
    sizes.wire += bytes;
    return value;
  }
  if (typeof value === 'number' || value instanceof ExactNumber) {
    sizes.stored += 8;
    sizes.wire += 8;
    const stored = storedNumber(value);
    if (stored.kind === 'invalid') throw new Refused(`field "${path}": ${stored.reason}`);
    if (stored.kind === 'integer') return stored.value;
    return Number.isInteger(stored.value) || Object.is(stored.value, -0) ? new DoubleValue(stored.value) : stored.value;
  }
  // Maps and arrays each add a level; Firestore allows 20.
  if (depth > MAX_DEPTH) throw new Refused(`field "${path}" is nested deeper than Firestore's ${MAX_DEPTH} levels`);
  if (Array.isArray(value)) {
    return value.map((item, i) => {
      if (Array.isArray(item)) {
        // Firestore cannot hold an array directly inside an array.
        throw new Refused(`field "${path}[${i}]" is an array inside an array, which Firestore cannot hold`);
      }
      return encodeValue(item, `${path}[${i}]`, depth + 1, sizes);
    });
  }
  const out: FirestoreData = {};
  for (const key of Object.keys(value)) out[key] = encodeField(key, value[key]!, `${path}.${key}`, depth + 1, sizes);
  return out;
}
