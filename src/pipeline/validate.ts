import { ExactNumber } from '../formats/exact-number.js';
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
