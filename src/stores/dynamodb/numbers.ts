/**
 * DynamoDB's number rules, on decimal text: at most 38 significant digits, magnitude within
 * 1E-130 .. 9.99…E+125 (leading and trailing zeros do not count). Checked before writing so one
 * such number fails its document, not a batch of 25.
 */
export interface DecimalShape {
  /** Significant digits once leading and trailing zeros are trimmed ('' for zero). */
  significant: string;
  /** Exponent of the first significant digit (d.ddd × 10^exponent). */
  exponent: number;
}

const decimalPattern = /^[+-]?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/** Parses JSON/JavaScript number text; undefined when it is not a finite decimal. */
export function decimalShape(text: string): DecimalShape | undefined {
  const match = decimalPattern.exec(text);
  if (!match || (match[1] === '' && (match[2] ?? '') === '')) return undefined;
  const whole = match[1]!;
  const digits = whole + (match[2] ?? '');
  const firstNonZero = digits.search(/[1-9]/);
  if (firstNonZero < 0) return { significant: '', exponent: 0 };
  const pointAt = whole.length + Number(match[3] ?? 0);
  return { significant: digits.slice(firstNonZero).replace(/0+$/, ''), exponent: pointAt - firstNonZero - 1 };
}

export const maxDigits = 38;
export const minExponent = -130;
export const maxExponent = 125;

/** Why DynamoDB would refuse this number; undefined when it takes it. */
export function numberProblem(text: string): string | undefined {
  const shape = decimalShape(text);
  if (!shape) return `${text} is not a finite number`;
  if (shape.significant.length > maxDigits) {
    return `number ${text} has ${shape.significant.length} significant digits; DynamoDB keeps at most ${maxDigits}`;
  }
  if (shape.significant && (shape.exponent > maxExponent || shape.exponent < minExponent)) {
    return `number ${text} is outside DynamoDB's range (magnitude 1E-130 to 9.99E+125)`;
  }
  return undefined;
}

/** Bytes DynamoDB bills for a number: one per two significant digits, plus one. */
export function numberSize(text: string): number {
  // Hot path (every number of every document): count digits without building a shape.
  let first = -1;
  let last = -1;
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 101 || code === 69) break; // e, E: the exponent does not add digits
    if (code < 48 || code > 57) continue;
    count++;
    if (code !== 48) {
      if (first < 0) first = count;
      last = count;
    }
  }
  return Math.ceil((first < 0 ? 0 : last - first + 1) / 2) + 1;
}
