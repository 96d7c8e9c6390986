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

/** What settle refuses, with the path to it filled in on the way out. */
interface Unsettled {
  reason: string;
  path: (string | number)[];
  /** Too deep: no path (it would be hundreds of levels long). */
  deep?: boolean;
}

/** What JSON.stringify leaves out of an object (and writes as null in a list). */
function absent(value: unknown): boolean {
  return value === undefined || typeof value === 'function' || typeof value === 'symbol';
}

/** Why JSON has no form for this value (a bigint, NaN, a Date or another class instance); undefined when it has. */
function notJson(value: unknown): Unsettled | undefined {
  switch (typeof value) {
    case 'number':
      return Number.isFinite(value) ? undefined : { reason: `${value} is not a number JSON can hold`, path: [] };
    case 'bigint':
      return { reason: 'a bigint is not a JSON value (make it a number or a string)', path: [] };
    case 'object': {
      if (value === null || Array.isArray(value) || value instanceof ExactNumber) return undefined;
      const prototype = Object.getPrototypeOf(value) as object | null;
      if (prototype === Object.prototype || prototype === null) return undefined;
      const kind = (value as object).constructor?.name || 'class instance';
      return { reason: `a ${kind} is not a JSON value${value instanceof Date ? ' (return date.toISOString())' : ''}`, path: [] };
    }
  }
  return undefined;
}

/** A value inside a container at `depth`: refused, or walked when it is a container itself. */
function settleValue(value: unknown, depth: number): Unsettled | undefined {
  const refused = notJson(value);
  if (refused || value === null || typeof value !== 'object' || value instanceof ExactNumber) return refused;
  return settleContainer(value, depth + 1);
}

function under(key: string | number, unsettled: Unsettled): Unsettled {
  if (!unsettled.deep) unsettled.path.unshift(key);
  return unsettled;
}

/** Walks a container at `depth` (the document is 1), making absent values absent in place. */
function settleContainer(container: object, depth: number): Unsettled | undefined {
  if (depth > maxDepth) return { reason: tooDeepReason, path: [], deep: true };
  if (Array.isArray(container)) {
    for (let i = 0; i < container.length; i++) {
      if (absent(container[i])) container[i] = null;
      else {
        const unsettled = settleValue(container[i], depth);
        if (unsettled) return under(i, unsettled);
      }
    }
    return undefined;
  }
  const record = container as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (absent(record[key])) delete record[key];
    else {
      const unsettled = settleValue(record[key], depth);
      if (unsettled) return under(key, unsettled);
    }
  }
  return undefined;
}

/**
 * Makes a value read the same by every store and by verify, or says why it cannot be. A field
 * left undefined is absent (an undefined array item becomes null), as JSON.stringify writes it,
 * and so is a function or a symbol. A value JSON has no form for (a bigint, NaN or Infinity, a
 * Date or another class instance) is refused with its field named: the stores would each make
 * something else of it (a Date is a string in a file and {} in DynamoDB). A value nested deeper
 * than maxDepth is refused. The recursion stops at maxDepth, so any input is safe here, and every
 * recursive walk after this step (transforms, encoders, digests) is safe too.
 */
export function settle(value: object): string | undefined {
  const unsettled = notJson(value) ?? settleContainer(value, 1);
  if (!unsettled) return undefined;
  const path = unsettled.path.map((key, i) => (typeof key === 'number' ? `[${key}]` : i === 0 ? key : `.${key}`)).join('');
  return path ? `field ${path}: ${unsettled.reason}` : unsettled.reason;
}
