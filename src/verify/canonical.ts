/**
 * A canonical text of a document for comparing stores: keys sorted, numbers as exact decimal
 * values. Stores keep the value of a number but not always its spelling (DynamoDB returns 1.50 as
 * 1.5, a file may hold 1e2 for 100), so verify compares values, never spellings.
 */
import { ExactNumber } from '../formats/exact-number.js';
import type { JsonValue } from '../types.js';

const decimal = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

/** `-1.50e2` → `-15e1`; `0.000` → `0`: one spelling per decimal value. */
export function canonicalNumber(text: string): string {
  const m = decimal.exec(text);
  if (!m) return text;
  const [, sign, int, frac = '', exp = '0'] = m;
  let digits = (int! + frac).replace(/^0+/, '');
  if (digits === '') return '0';
  let exponent = Number(exp) - frac.length;
  const trimmed = digits.replace(/0+$/, '');
  exponent += digits.length - trimmed.length;
  digits = trimmed;
  return `${sign}${digits}e${exponent}`;
}

/** Field names repeat across documents: quote each once. */
const quotedKeys = new Map<string, string>();
const maxQuotedKeys = 10_000;

function quoteKey(key: string): string {
  let quoted = quotedKeys.get(key);
  if (quoted === undefined) {
    quoted = JSON.stringify(key);
    if (quotedKeys.size < maxQuotedKeys) quotedKeys.set(key, quoted);
  }
  return quoted;
}

export function canonical(value: JsonValue): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return canonicalNumber(String(value));
  if (value instanceof ExactNumber) return canonicalNumber(value.text);
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${quoteKey(k)}:${canonical(value[k]!)}`).join(',')}}`;
}
