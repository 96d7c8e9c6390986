/**
 * Whether DynamoDB can hold a document, judged per document before batching: size by DynamoDB's
 * own accounting, numbers, attribute names, nesting and the `_id` key.
 */
import { ExactNumber } from '../../formats/exact-number.js';
import type { Doc, JsonValue } from '../../types.js';
import { numberProblem, numberSize } from './numbers.js';

/** 400 KB, names and values together. */
export const maxItemBytes = 400 * 1024;
/** A partition key value is at most 2048 bytes. */
export const maxKeyBytes = 2048;
/** Lists and maps nest at most 32 levels. */
export const maxDepth = 32;

class Refused extends Error {}

/**
 * UTF-8 length. A JavaScript loop beats Buffer.byteLength's native call for the short strings
 * documents are made of; long ones go native.
 */
function utf8(text: string): number {
  const length = text.length;
  if (length > 64) return Buffer.byteLength(text, 'utf8');
  let bytes = length;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    // Surrogate pairs are 2 units and 4 bytes: +1 per unit covers them.
    if (code >= 0x80) bytes += code >= 0x800 && (code < 0xd800 || code > 0xdfff) ? 2 : 1;
  }
  return bytes;
}

/** A double's text has at most 17 significant digits; only exponent forms can leave DynamoDB's range. */
function plainNumberSize(value: number, path: string): number {
  if (!Number.isFinite(value)) throw new Refused(`${path}: ${value} is not a number DynamoDB can hold`);
  const text = String(value);
  if (text.includes('e')) {
    const problem = numberProblem(text);
    if (problem) throw new Refused(`${path}: ${problem}`);
  }
  return numberSize(text);
}

/**
 * Bytes DynamoDB counts for a value (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html):
 * strings their UTF-8 length, numbers 1 byte per two significant digits + 1, null and booleans 1,
 * lists and maps 3 bytes + 1 per element + the elements (map keys count as names).
 */
function valueSize(value: JsonValue, depth: number, path: string): number {
  if (value === null || typeof value === 'boolean') return 1;
  if (typeof value === 'string') return utf8(value);
  if (typeof value === 'number') return plainNumberSize(value, path);
  if (value instanceof ExactNumber) {
    const problem = numberProblem(value.text);
    if (problem) throw new Refused(`${path}: ${problem}`);
    return numberSize(value.text);
  }
  if (depth >= maxDepth) throw new Refused(`${path}: nested deeper than DynamoDB's ${maxDepth} levels`);
  let size = 3;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) size += 1 + valueSize(value[i]!, depth + 1, `${path}[${i}]`);
    return size;
  }
  if (typeof value !== 'object') throw new Refused(`${path}: a ${typeof value} is not a JSON value`);
  for (const key of Object.keys(value)) {
    if (key === '') throw new Refused(`${path}: empty field name; DynamoDB refuses empty attribute names`);
    size += 1 + utf8(key) + valueSize(value[key]!, depth + 1, `${path}.${key}`);
  }
  return size;
}

/** Why DynamoDB cannot hold this document; undefined when it can. */
export function itemProblem(doc: Doc): string | undefined {
  const id = doc._id;
  if (typeof id !== 'string' || id === '') return '_id must be a non-empty string (the table key)';
  if (utf8(id) > maxKeyBytes) return `_id is ${utf8(id)} bytes; DynamoDB keys hold at most ${maxKeyBytes}`;
  try {
    let size = 0;
    for (const key of Object.keys(doc)) {
      if (key === '') throw new Refused('empty field name; DynamoDB refuses empty attribute names');
      size += utf8(key) + valueSize(doc[key]!, 1, key);
    }
    if (size > maxItemBytes) return `item is ${size} bytes; DynamoDB holds at most ${maxItemBytes} (400 KB)`;
  } catch (error) {
    if (error instanceof Refused) return error.message;
    throw error;
  }
  return undefined;
}
