/**
 * Our documents as DynamoDB AttributeValues, exactly, without the SDK's marshaller (which turns
 * numbers into doubles or refuses big ones). The way back is src/formats/dynamodb-json.ts, shared with
 * the reader of DynamoDB export files.
 *
 * Numbers go as their decimal text: an ExactNumber's own digits, a plain number's shortest
 * round-trip text (`String(n)`, exponent forms like 1e+21 included, which DynamoDB accepts), the
 * way the Python app stores `Decimal(str(x))`. DynamoDB keeps the exact decimal value but normalizes
 * the text (1.50 → 1.5, 1e+21 → 1000000000000000000000, 1e-7 → 0.0000001), so "exact" here means
 * the same decimal value, and the same digits for every integer.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { ExactNumber } from '../../formats/exact-number.js';
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
