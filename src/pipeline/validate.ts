import { ExactNumber } from '../formats/exact-number.js';
import { maxDepth, tooDeepReason } from '../formats/limits.js';
import type { Doc } from '../types.js';

/** Why a value read from a source is not a document at all; undefined when it is an object. */
export function notADocument(value: unknown): string | undefined {
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof ExactNumber)) return undefined;
  const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'a number' : `a ${typeof value}`;
  return `not a document: the value is ${kind}`;
}

/** Why a document's `_id` cannot key it in every store; undefined when it can. */
export function badId(doc: Doc): string | undefined {
  const id = doc._id;
  if (id === undefined) return 'document has no _id';
  if (typeof id !== 'string') return `_id must be a string, not ${id === null ? 'null' : typeof id === 'object' ? 'a number or structure' : `a ${typeof id}`}`;
  if (id === '') return '_id is empty';
  return undefined;
}

/**
 * Makes a value read the same by every store and by verify, or says why it cannot be: a field
 * left undefined is absent (an undefined array item becomes null, as JSON writes it), and a value
 * nested deeper than maxDepth is refused. The recursion stops at maxDepth, so any input is safe
 * here, and every recursive walk after this step (transforms, encoders, digests) is safe too.
 */
export function settle(value: object): string | undefined {
  return deeperThanLimit(value, 1) ? tooDeepReason : undefined;
}

function deeperThanLimit(value: object, depth: number): boolean {
  if (depth > maxDepth) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (item === undefined) value[i] = null;
      else if (typeof item === 'object' && item !== null && !(item instanceof ExactNumber) && deeperThanLimit(item, depth + 1)) return true;
    }
    return false;
  }
  const record = value as Record<string, unknown>;
  for (const key in record) {
    const item = record[key];
    if (item === undefined) delete record[key];
    else if (typeof item === 'object' && item !== null && !(item instanceof ExactNumber) && deeperThanLimit(item, depth + 1)) return true;
  }
  return false;
}
