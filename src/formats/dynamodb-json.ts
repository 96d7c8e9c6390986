/**
 * DynamoDB JSON (`{"S": "x"}`, `{"N": "1.5"}`, `{"M": {…}}`, …) as our documents: what a Scan
 * answers and what every line of a DynamoDB export-to-S3 data file holds. Numbers through
 * numberFromText (integers beyond 2^53 and long decimals stay ExactNumber, digit for digit), binary
 * as base64 (an export already writes it so; the SDK hands bytes), the three set types as lists
 * (JSON has no sets).
 */
import type { Doc, JsonValue } from '../types.js';
import { numberFromText } from './exact-number.js';

/** One attribute value, as the SDK types it or as an export file spells it (binary as base64 there). */
export interface DynamoValue {
  S?: string;
  N?: string;
  B?: Uint8Array | string;
  BOOL?: boolean;
  NULL?: boolean;
  M?: Record<string, DynamoValue>;
  L?: DynamoValue[];
  SS?: string[];
  NS?: string[];
  BS?: (Uint8Array | string)[];
}

export type DynamoItem = Record<string, DynamoValue>;

const base64 = (bytes: Uint8Array | string) =>
  typeof bytes === 'string' ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

const jsonNumber = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/** A number's text as a JSON number; anything else (a hand-edited export) is refused, never written as text. */
function number(text: string): JsonValue {
  if (!jsonNumber.test(text)) throw new Error(`${JSON.stringify(text)} is not a number`);
  return numberFromText(text);
}

export function fromAttributeValue(value: DynamoValue): JsonValue {
  if (value === null || typeof value !== 'object') throw new Error(`${JSON.stringify(value)} is not a typed attribute value like {"S": …}`);
  if (value.S !== undefined) return value.S;
  if (value.N !== undefined) return number(value.N);
  if (value.BOOL !== undefined) return value.BOOL;
  if (value.NULL !== undefined) return null;
  if (value.M !== undefined) return fromItem(value.M);
  if (value.L !== undefined) return value.L.map(fromAttributeValue);
  if (value.B !== undefined) return base64(value.B);
  if (value.SS !== undefined) return [...value.SS];
  if (value.NS !== undefined) return value.NS.map(number);
  if (value.BS !== undefined) return value.BS.map(base64);
  throw new Error(`unknown DynamoDB attribute type ${Object.keys(value).join(',')}`);
}

export function fromItem(item: DynamoItem): Doc {
  const doc: Doc = {};
  for (const key of Object.keys(item)) doc[key] = fromAttributeValue(item[key]!);
  return doc;
}

/** A top-level item as a document, `_id` first as Gofannon's exports have it (DynamoDB keeps no attribute order). */
export function docFromItem(item: DynamoItem): Doc {
  const doc: Doc = item._id ? { _id: fromAttributeValue(item._id) } : {};
  for (const key of Object.keys(item)) if (key !== '_id') doc[key] = fromAttributeValue(item[key]!);
  return doc;
}
