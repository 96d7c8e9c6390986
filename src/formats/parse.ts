/**
 * Exact JSON parsing: numbers a double would change come out as ExactNumber, everything else as
 * JSON.parse would give it.
 *
 * Most documents hold no such number, so `parseJson` first runs a cheap scan and hands the text to
 * the native JSON.parse when the scan finds nothing; only texts with an unsafe number (or a syntax
 * error, for its position) go through the slower parser below.
 */
import type { JsonValue } from '../types.js';
import { ExactNumber, numberFromText } from './exact-number.js';
import { maxDepth, tooDeepReason } from './limits.js';

/** Malformed JSON, with the character position (index into the text) where parsing failed. */
export class JsonSyntaxError extends SyntaxError {
  constructor(
    /** What went wrong, without the position ("unexpected token '}'"). */
    readonly reason: string,
    readonly position: number,
  ) {
    super(`${reason} at position ${position}`);
    this.name = 'JsonSyntaxError';
  }
}

/** A value nested deeper than the parser was allowed to go: the document is refused, not the file. */
export class TooDeepError extends JsonSyntaxError {}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Whether a number token needs checking at all: integers of up to 15 digits are always exact
 * doubles, so only tokens with a fraction, an exponent, more digits, or `-0` do.
 */
export function maybeUnsafeNumber(token: string): boolean {
  return token.length > 15 || /[.eE]/.test(token) || token === '-0';
}

/** True when the number literal would not come back with the same text from a double. */
export function isUnsafeNumber(token: string): boolean {
  return maybeUnsafeNumber(token) && numberFromText(token) instanceof ExactNumber;
}

/** Index of the quote closing the string whose content starts at `from`, or -1. */
export function closingQuote(text: string, from: number): number {
  let search = from;
  for (;;) {
    const quote = text.indexOf('"', search);
    if (quote < 0) return -1;
    let backslashes = 0;
    while (quote - backslashes - 1 >= search && text.charCodeAt(quote - backslashes - 1) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote;
    search = quote + 1;
  }
}

/** True when the text holds a number token outside strings that a double would not reproduce. */
export function hasUnsafeNumber(text: string): boolean {
  const length = text.length;
  let i = 0;
  while (i < length) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = closingQuote(text, i + 1);
      if (end < 0) return false; // malformed: JSON.parse will say where
      i = end + 1;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      let end = i + 1;
      for (; end < length; end++) {
        const d = text.charCodeAt(end);
        if (!((d >= 0x30 && d <= 0x39) || d === 0x2e || d === 0x65 || d === 0x45 || d === 0x2b || d === 0x2d)) break;
      }
      if (isUnsafeNumber(text.slice(i, end))) return true;
      i = end;
    } else {
      i++;
    }
  }
  return false;
}

/**
 * Parses one complete JSON text exactly (see the module comment). Throws JsonSyntaxError.
 * `depthLimit` bounds the exact parser's recursion (JSON.parse needs no bound: it does not recurse);
 * the pipeline checks every document's depth against maxDepth.
 */
export function parseJson(text: string, depthLimit = maxDepth): JsonValue {
  if (!hasUnsafeNumber(text)) {
    try {
      return JSON.parse(text) as JsonValue;
    } catch {
      // Fall through: the exact parser finds the same error and reports where it is.
    }
  }
  return parseExact(text, depthLimit);
}

/** The lossless parser, for texts known to hold unsafe numbers. Throws TooDeepError past `depthLimit` levels. */
export function parseExact(text: string, depthLimit = maxDepth): JsonValue {
  return new ExactParser(text, depthLimit).parseDocument();
}

const numberPattern = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

class ExactParser {
  private i = 0;
  private depth = 0;
  constructor(
    private readonly text: string,
    private readonly depthLimit: number,
  ) {}

  parseDocument(): JsonValue {
    const value = this.value();
    this.skipSpace();
    if (this.i < this.text.length) this.fail(`unexpected ${this.describe()} after the JSON value`);
    return value;
  }

  private value(): JsonValue {
    this.skipSpace();
    const c = this.text.charCodeAt(this.i);
    switch (c) {
      case 0x7b:
        return this.object();
      case 0x5b:
        return this.array();
      case QUOTE:
        return this.string();
      case 0x74:
        return this.literal('true', true);
      case 0x66:
        return this.literal('false', false);
      case 0x6e:
        return this.literal('null', null);
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
        return this.fail(`unexpected ${this.describe()}`);
    }
  }

  /** Every object and array goes one level down: the recursion stays bounded whatever the input. */
  private enter(): void {
    if (++this.depth > this.depthLimit) throw new TooDeepError(tooDeepReason, this.i);
  }

  private object(): JsonValue {
    const result: { [key: string]: JsonValue } = {};
    this.enter();
    this.i++;
    this.skipSpace();
    if (this.text.charCodeAt(this.i) === 0x7d) {
      this.i++;
      this.depth--;
      return result;
    }
    for (;;) {
      this.skipSpace();
      if (this.text.charCodeAt(this.i) !== QUOTE) this.fail(`expected a property name, found ${this.describe()}`);
      const key = this.string();
      this.skipSpace();
      if (this.text.charCodeAt(this.i) !== 0x3a) this.fail(`expected ':', found ${this.describe()}`);
      this.i++;
      const value = this.value();
      // A plain assignment of "__proto__" would replace the prototype instead of adding a property.
      if (key === '__proto__') Object.defineProperty(result, key, { value, enumerable: true, writable: true, configurable: true });
      else result[key] = value;
      this.skipSpace();
      const c = this.text.charCodeAt(this.i++);
      if (c === 0x7d) {
        this.depth--;
        return result;
      }
      if (c !== 0x2c) this.fail(`expected ',' or '}', found ${this.describe(this.i - 1)}`, this.i - 1);
    }
  }

  private array(): JsonValue {
    const result: JsonValue[] = [];
    this.enter();
    this.i++;
    this.skipSpace();
    if (this.text.charCodeAt(this.i) === 0x5d) {
      this.i++;
      this.depth--;
      return result;
    }
    for (;;) {
      result.push(this.value());
      this.skipSpace();
      const c = this.text.charCodeAt(this.i++);
      if (c === 0x5d) {
        this.depth--;
        return result;
      }
      if (c !== 0x2c) this.fail(`expected ',' or ']', found ${this.describe(this.i - 1)}`, this.i - 1);
    }
  }

  private string(): string {
    const start = this.i;
    const end = closingQuote(this.text, start + 1);
    if (end < 0) this.fail('unterminated string', start);
    this.i = end + 1;
    try {
      // JSON.parse decodes the escapes and rejects raw control characters, exactly per the spec.
      return JSON.parse(this.text.slice(start, end + 1)) as string;
    } catch {
      return this.fail('invalid string (bad escape or control character)', start);
    }
  }

  private number(): JsonValue {
    numberPattern.lastIndex = this.i;
    const match = numberPattern.exec(this.text);
    if (!match) return this.fail(`invalid number`);
    this.i += match[0].length;
    return numberFromText(match[0]);
  }

  private literal(word: string, value: JsonValue): JsonValue {
    if (!this.text.startsWith(word, this.i)) this.fail(`unexpected ${this.describe()}`);
    this.i += word.length;
    return value;
  }

  private skipSpace(): void {
    const text = this.text;
    let i = this.i;
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
    this.i = i;
  }

  private describe(at = this.i): string {
    if (at >= this.text.length) return 'end of input';
    return `token ${JSON.stringify(this.text[at])}`;
  }

  private fail(reason: string, at = this.i): never {
    if (at >= this.text.length) throw new JsonSyntaxError('unexpected end of input', this.text.length);
    throw new JsonSyntaxError(reason, at);
  }
}
