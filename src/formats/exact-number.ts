/**
 * A JSON number kept as the text it was written with.
 *
 * JavaScript numbers are doubles: `12345678901234567890` or `0.10000000000000000001` would come out
 * changed, and `1.0` would come out as `1` (an integer to Python and Firestore). Parsers produce an
 * ExactNumber exactly when the double would not give the same text back, so ordinary numbers stay
 * plain and fast, and every sink can write the original digits.
 */
export class ExactNumber {
  constructor(readonly text: string) {}

  /** True when the text is an integer literal (no fraction, no exponent). */
  get isInteger(): boolean {
    return /^-?\d+$/.test(this.text);
  }

  valueOf(): number {
    return Number(this.text);
  }

  toString(): string {
    return this.text;
  }

  /**
   * Plain JSON.stringify (a user's transform, a log line) sees the nearest double; our own
   * serializer (formats/serialize.ts) switches `rawMode` on to emit the exact text instead.
   */
  toJSON(): number | string {
    return rawMode.active ? rawMode.mark(this.text) : Number(this.text);
  }
}

/** Set only for the duration of one synchronous serialize call. */
export const rawMode: { active: boolean; mark: (text: string) => string } = {
  active: false,
  mark: (text) => text,
};

/** The number a parser should produce for a JSON number literal. */
export function numberFromText(text: string): number | ExactNumber {
  const n = Number(text);
  return String(n) === text ? n : new ExactNumber(text);
}
