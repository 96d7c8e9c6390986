import { ExactNumber } from '../formats/exact-number.js';
import type { Doc, JsonValue } from '../types.js';

function convert(value: JsonValue): JsonValue {
  if (typeof value === 'number') return Number.isInteger(value) ? value : new ExactNumber(String(value));
  if (value === null || typeof value !== 'object' || value instanceof ExactNumber) return value;
  if (Array.isArray(value)) return value.map(convert);
  for (const key of Object.keys(value)) value[key] = convert(value[key]!);
  return value;
}

/**
 * Every fractional number becomes an exact decimal from its shortest decimal text: the Python
 * app's `Decimal(str(x))`. Stores and library callers that need decimals then see `0.1`, never
 * `0.1000000000000000055511151231257827`. Numbers parsed from files are already exact.
 */
export default function floatToDecimal(doc: Doc): Doc {
  return convert(doc) as Doc;
}
