/**
 * How a JSON number is stored in Firestore, which (unlike JSON) tells int64 integers from doubles.
 * The written form decides: `3` is an integer, `2.5`, `2.0` and `1e3` are doubles. Nothing is
 * rounded silently: a number Firestore cannot hold exactly is refused with the reason.
 */
import { ExactNumber } from '../../formats/exact-number.js';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

export type StoredNumber =
  | { kind: 'integer'; value: bigint }
  | { kind: 'double'; value: number }
  | { kind: 'invalid'; reason: string };

export function storedNumber(n: number | ExactNumber): StoredNumber {
  // A plain number's text is String(n) (parsers keep anything else as ExactNumber).
  const text = n instanceof ExactNumber ? n.text : String(n);
  if (/^-?\d+$/.test(text)) {
    const value = BigInt(text);
    if (value < INT64_MIN || value > INT64_MAX) return { kind: 'invalid', reason: `integer ${text} is beyond int64, the largest integer Firestore holds` };
    return { kind: 'integer', value };
  }
  const value = Number(text);
  if (typeof n === 'number') return { kind: 'double', value };
  if (!Number.isFinite(value)) return { kind: 'invalid', reason: `number ${text} is beyond the range of a Firestore double` };
  if (!sameDecimal(text, String(value))) {
    return { kind: 'invalid', reason: `number ${text} cannot be stored exactly: Firestore doubles carry ~17 significant digits` };
  }
  return { kind: 'double', value };
}

/** True when two decimal literals denote the same number (`1.50` and `1.5`, `1e3` and `1000`). */
export function sameDecimal(a: string, b: string): boolean {
  const x = canonicalDecimal(a);
  return x !== undefined && x === canonicalDecimal(b);
}

function canonicalDecimal(text: string): string | undefined {
  const m = /^(-?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!m) return undefined;
  const [, sign, whole = '', fraction = '', exponent = '0'] = m;
  let digits = (whole + fraction).replace(/^0+/, '');
  if (!digits) return '0';
  let exp = Number(exponent) - fraction.length;
  const trimmed = digits.replace(/0+$/, '');
  exp += digits.length - trimmed.length;
  digits = trimmed;
  return `${sign}${digits}e${exp}`;
}
