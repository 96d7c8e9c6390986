/**
 * Exact conversion between our documents and DynamoDB AttributeValues, without the SDK's
 * marshaller (which turns numbers into doubles or refuses big ones).
 *
 * Numbers go as their decimal text: an ExactNumber's own digits, a plain number's shortest
 * round-trip text (`String(n)`, exponent forms like 1e+21 included, which DynamoDB accepts), the
 * way the Python app stores `Decimal(str(x))`. DynamoDB keeps the exact decimal value but normalizes
 * the text (1.50 → 1.5, 1e+21 → 1000000000000000000000, 1e-7 → 0.0000001), so "exact" here means
 * the same decimal value, and the same digits for every integer.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { ExactNumber, numberFromText } from '../../formats/exact-number.js';
import type { Doc, JsonValue } from '../../types.js';

export type Item = Record<string, AttributeValue>;

export function toAttributeValue(value: JsonValue): AttributeValue {
  if (value === null) return { NULL: true };
  switch (typeof value) {
    case 'string':
      return { S: value };
    case 'number':
      return { N: String(value) };
    case 'boolean':
      return { BOOL: value };
  }
  if (value instanceof ExactNumber) return { N: value.text };
  if (Array.isArray(value)) return { L: value.map(toAttributeValue) };
  const map: Item = {};
  for (const key of Object.keys(value)) map[key] = toAttributeValue(value[key]!);
  return { M: map };
}

export function toItem(doc: Doc): Item {
  return (toAttributeValue(doc) as { M: Item }).M;
}

const base64 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

/**
 * Back to JSON: numbers through numberFromText (big integers stay ExactNumber), binary as base64,
 * the three set types as lists (JSON has no sets).
 */
export function fromAttributeValue(value: AttributeValue): JsonValue {
  if (value.S !== undefined) return value.S;
  if (value.N !== undefined) return numberFromText(value.N);
  if (value.BOOL !== undefined) return value.BOOL;
  if (value.NULL !== undefined) return null;
  if (value.M !== undefined) return fromItem(value.M);
  if (value.L !== undefined) return value.L.map(fromAttributeValue);
  if (value.B !== undefined) return base64(value.B);
  if (value.SS !== undefined) return [...value.SS];
  if (value.NS !== undefined) return value.NS.map(numberFromText);
  if (value.BS !== undefined) return value.BS.map(base64);
  throw new Error(`unknown DynamoDB attribute type ${Object.keys(value).join(',')}`);
}

export function fromItem(item: Item): Doc {
  const doc: Doc = {};
  for (const key of Object.keys(item)) doc[key] = fromAttributeValue(item[key]!);
  return doc;
}

/** A top-level item as a document, `_id` first as Gofannon's exports have it (DynamoDB keeps no attribute order). */
export function docFromItem(item: Item): Doc {
  const doc: Doc = item._id ? { _id: fromAttributeValue(item._id) } : {};
  for (const key of Object.keys(item)) if (key !== '_id') doc[key] = fromAttributeValue(item[key]!);
  return doc;
}
