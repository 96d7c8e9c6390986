/**
 * A byte-level splitter for export files (`{"metadata": {...}, "data": {"<collection>": [docs]}}`,
 * any key order, any size): it finds each document's byte range inside the `data` arrays without
 * parsing it, so the caller can hand exactly those bytes to JSON.parse.
 *
 * Why not a streaming tokenizer: building every value token by token in JavaScript is what makes
 * the usual streaming parsers ~5x slower than JSON.parse. Here the only per-byte work is bracket
 * counting between strings; strings are jumped with Buffer.indexOf, and number tokens are looked
 * at only when they could be unsafe for a double (fraction, exponent, more than 15 digits), so the
 * caller knows which documents need the exact parser.
 *
 * Input arrives as Buffers in any split: every piece of state (inside a string, an escape pending
 * at the end of a buffer, the bytes of a document so far) survives the boundary, and a document's
 * bytes are decoded only once it is complete, so multi-byte characters split across buffers are
 * never cut.
 */
import { maxDepth, maxDocumentBytes, tooDeepReason, tooLargeReason } from './limits.js';
import { isUnsafeNumber } from './parse.js';
import { invalidOffset, invalidUtf8Reason, Utf8Guard } from './utf8.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

/** Malformed structure at an absolute byte offset of the (decompressed) input. */
export class ScanError extends Error {
  constructor(
    readonly reason: string,
    readonly offset: number,
  ) {
    super(`${reason} at byte ${offset}`);
    this.name = 'ScanError';
  }
}

export interface ScanHandler {
  /** A collection's array opened; `offset` is just after its `[`. Returns whether to capture its documents. */
  collection(name: string, offset: number): boolean;
  /**
   * One document of the current collection (only when `collection` returned true). `bytes` is
   * valid only during the call. `unsafe` is true when it may hold a number a double cannot carry.
   */
  doc(bytes: Buffer, unsafe: boolean, start: number, end: number): void;
  /**
   * A document of the current collection that cannot be taken as a value (not valid UTF-8, nested
   * deeper than maxDepth, larger than maxDocumentBytes), with why; `bytes` (valid only during the
   * call) are absent for one too large to keep.
   */
  unreadable(reason: string, start: number, end: number, bytes: Buffer | undefined): void;
  /** The bytes of the top-level `metadata` value. */
  metadata(bytes: Buffer, start: number): void;
}

/** Where scanning can restart: inside a collection's array, at its start or after a document. */
export interface ScanResume {
  offset: number;
  collection: string;
  afterDoc: boolean;
}

const enum S {
  TopStart,
  TopKeyOrEnd,
  TopKey,
  TopColon,
  TopValue,
  TopAfter,
  DataKeyOrEnd,
  DataKey,
  DataColon,
  DataValue,
  DataAfter,
  ArrayFirst,
  ArrayNext,
  ArrayAfter,
  KeyString,
  Value,
  Done,
}

const enum Mode {
  Doc,
  Metadata,
  Skip,
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function isNumberByte(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d;
}

/** Bytes that end a bare scalar (number, true, false, null). */
function isDelimiter(c: number): boolean {
  return isSpace(c) || c === COMMA || c === CLOSE_ARRAY || c === CLOSE_OBJECT;
}

function describeByte(c: number): string {
  return c >= 0x20 && c < 0x7f ? `'${String.fromCharCode(c)}'` : `byte 0x${c.toString(16).padStart(2, '0')}`;
}

export class ExportScanner {
  private state: S = S.TopStart;
  /** Absolute offset of the current buffer's first byte. */
  private base = 0;
  /** State to return to after a key string or value. */
  private after: S = S.TopColon;
  private key = '';
  private mode: Mode = Mode.Skip;
  private capturing = false;
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** The value is a bare scalar (number or literal) still being read. */
  private scalar = false;
  private unsafe = false;
  /** The document being captured nests deeper than maxDepth. */
  private deep = false;
  /** Bytes kept of the current value so far; past maxDocumentBytes a document's bytes are dropped. */
  private kept = 0;
  private oversized = false;
  private readonly utf8 = new Utf8Guard();
  private valueStart = 0;
  /** Bytes of the value (or key) so far, from earlier buffers. */
  private parts: Buffer[] = [];
  private sawData = false;
  /** The collection whose array is open, for error messages. */
  current: string | undefined;

  constructor(
    private readonly handler: ScanHandler,
    resume?: ScanResume,
  ) {
    if (resume) {
      this.state = resume.afterDoc ? S.ArrayAfter : S.ArrayFirst;
      this.base = resume.offset;
      this.current = resume.collection;
      this.capturing = true;
      this.sawData = true;
    }
  }

  /** Whether the input held a top-level `data` object (checked by the caller at the end). */
  get foundData(): boolean {
    return this.sawData;
  }

  /** Scans one buffer; throws ScanError on malformed structure. */
  push(buf: Buffer): void {
    const n = buf.length;
    this.utf8.see(buf, this.base);
    let i = 0;
    while (i < n) {
      switch (this.state) {
        case S.Value:
          i = this.value(buf, i);
          continue;
        case S.KeyString:
          i = this.keyString(buf, i);
          continue;
      }
      const c = buf[i]!;
      if (isSpace(c)) {
        i++;
        continue;
      }
      switch (this.state) {
        case S.TopStart:
          if (c === 0xef && this.base + i === 0 && buf[i + 1] === 0xbb && buf[i + 2] === 0xbf) {
            i += 3; // UTF-8 byte order mark
            continue;
          }
          if (c !== OPEN_OBJECT) this.fail(c === OPEN_ARRAY ? 'not an export: the top-level value is an array, not an object' : `expected '{', found ${describeByte(c)}`, i);
          this.state = S.TopKeyOrEnd;
          break;
        case S.TopKeyOrEnd:
        case S.TopKey:
          if (c === CLOSE_OBJECT && this.state === S.TopKeyOrEnd) {
            this.state = S.Done;
            break;
          }
          i = this.keyString(buf, this.startKey(c, i, S.TopColon));
          continue;
        case S.TopColon:
          this.expect(c, COLON, ':', i);
          this.state = S.TopValue;
          break;
        case S.TopValue:
          if (this.key === 'data') {
            if (c !== OPEN_OBJECT) this.fail('not an export: "data" is not an object', i);
            this.sawData = true;
            this.state = S.DataKeyOrEnd;
          } else {
            i = this.value(buf, this.startValue(c, i, this.key === 'metadata' ? Mode.Metadata : Mode.Skip, S.TopAfter));
            continue;
          }
          break;
        case S.TopAfter:
          if (c === COMMA) this.state = S.TopKey;
          else if (c === CLOSE_OBJECT) this.state = S.Done;
          else this.fail(`expected ',' or '}' after a top-level value, found ${describeByte(c)}`, i);
          break;
        case S.DataKeyOrEnd:
        case S.DataKey:
          if (c === CLOSE_OBJECT && this.state === S.DataKeyOrEnd) {
            this.state = S.TopAfter;
            break;
          }
          i = this.keyString(buf, this.startKey(c, i, S.DataColon));
          continue;
        case S.DataColon:
          this.expect(c, COLON, ':', i);
          this.state = S.DataValue;
          break;
        case S.DataValue:
          if (c !== OPEN_ARRAY) this.fail(`collection "${this.key}" is not an array`, i);
          this.current = this.key;
          this.capturing = this.handler.collection(this.key, this.base + i + 1);
          this.state = S.ArrayFirst;
          break;
        case S.DataAfter:
          if (c === COMMA) this.state = S.DataKey;
          else if (c === CLOSE_OBJECT) this.state = S.TopAfter;
          else this.fail(`expected ',' or '}' after collection "${this.current}", found ${describeByte(c)}`, i);
          break;
        case S.ArrayFirst:
        case S.ArrayNext:
          if (c === CLOSE_ARRAY && this.state === S.ArrayFirst) {
            this.closeArray();
            break;
          }
          i = this.value(buf, this.startValue(c, i, this.capturing ? Mode.Doc : Mode.Skip, S.ArrayAfter));
          continue;
        case S.ArrayAfter:
          if (c === COMMA) this.state = S.ArrayNext;
          else if (c === CLOSE_ARRAY) this.closeArray();
          else this.fail(`expected ',' or ']' after a document, found ${describeByte(c)}`, i);
          break;
        case S.Done:
          this.fail(`unexpected ${describeByte(c)} after the end of the export`, i);
      }
      i++;
    }
    this.base += n;
  }

  /** Call at the end of input: throws ScanError when the input stopped early. */
  end(): void {
    if (this.state !== S.Done) this.fail('unexpected end of file', 0);
  }

  /** The absolute offset scanned so far. */
  get offset(): number {
    return this.base;
  }

  private closeArray(): void {
    this.current = undefined;
    this.state = S.DataAfter;
  }

  private expect(c: number, wanted: number, label: string, i: number): void {
    if (c !== wanted) this.fail(`expected '${label}', found ${describeByte(c)}`, i);
  }

  private fail(reason: string, i: number): never {
    throw new ScanError(reason, this.base + i);
  }

  /** Starts a property name at its opening quote; returns where scanning continues. */
  private startKey(c: number, i: number, after: S): number {
    if (c !== QUOTE) this.fail(`expected a property name, found ${describeByte(c)}`, i);
    this.after = after;
    this.valueStart = this.base + i;
    this.valueFrom = i;
    this.parts = [];
    this.escaped = false;
    this.state = S.KeyString;
    return i + 1;
  }

  private keyString(buf: Buffer, i: number): number {
    const end = this.stringEnd(buf, i);
    if (end < 0) {
      this.parts.push(buf.subarray(this.valueFrom));
      this.valueFrom = 0;
      return buf.length;
    }
    const last = buf.subarray(this.valueFrom, end + 1);
    const bytes = this.parts.length ? Buffer.concat([...this.parts, last]) : last;
    this.parts = [];
    this.valueFrom = 0;
    if (!this.utf8.valid(bytes, this.valueStart)) this.fail('property name is not valid UTF-8', invalidOffset(bytes, this.valueStart) - this.base);
    try {
      this.key = JSON.parse(bytes.toString('utf8')) as string;
    } catch {
      this.fail('invalid property name', this.valueStart - this.base);
    }
    this.state = this.after;
    return end + 1;
  }

  /**
   * Index of the quote closing the current string at or after `from`, or -1 when the buffer ends
   * inside it (then `escaped` tells whether the next buffer's first byte is escaped).
   */
  private stringEnd(buf: Buffer, from: number): number {
    let search = from;
    if (this.escaped) {
      this.escaped = false;
      search++;
    }
    for (;;) {
      const quote = buf.indexOf(QUOTE, search);
      if (quote < 0) {
        let backslashes = 0;
        while (buf.length - 1 - backslashes >= search && buf[buf.length - 1 - backslashes] === BACKSLASH) backslashes++;
        this.escaped = backslashes % 2 === 1;
        return -1;
      }
      let backslashes = 0;
      while (quote - 1 - backslashes >= search && buf[quote - 1 - backslashes] === BACKSLASH) backslashes++;
      if (backslashes % 2 === 0) return quote;
      search = quote + 1;
    }
  }

  /** Starts a value at its first byte; returns where scanning continues. */
  private startValue(c: number, i: number, mode: Mode, after: S): number {
    this.mode = mode;
    this.after = after;
    this.valueStart = this.base + i;
    this.valueFrom = i;
    this.parts = [];
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
    this.scalar = false;
    this.unsafe = false;
    this.deep = false;
    this.kept = 0;
    this.oversized = false;
    this.state = S.Value;
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      this.depth = 1;
      return i + 1;
    }
    if (c === QUOTE) {
      this.inString = true;
      return i + 1;
    }
    if (c === 0x2d || (c >= 0x30 && c <= 0x39) || c === 0x74 || c === 0x66 || c === 0x6e) {
      this.scalar = true;
      return i;
    }
    return this.fail(`unexpected ${describeByte(c)} where a value should start`, i);
  }

  /** Index in the current buffer where the value's (or key's) bytes begin; 0 once it spans buffers. */
  private valueFrom = 0;

  /** Scans the current value from `i`; returns the index after it, or buf.length. */
  private value(buf: Buffer, i: number): number {
    const n = buf.length;
    const checkNumbers = this.mode === Mode.Doc;
    let depth = this.depth;
    let unsafe = this.unsafe;
    if (this.scalar) {
      let j = i;
      while (j < n && !isDelimiter(buf[j]!)) j++;
      if (j === n) {
        this.keep(buf);
        return n;
      }
      this.scalar = false;
      this.finish(buf, j, unsafe || (checkNumbers && (this.parts.length > 0 || isUnsafeNumber(buf.toString('latin1', this.valueFrom, j)))));
      return j;
    }
    if (this.inString) {
      const end = this.stringEnd(buf, i);
      if (end < 0) {
        this.keep(buf);
        return n;
      }
      this.inString = false;
      i = end + 1;
      if (depth === 0) {
        this.finish(buf, i, unsafe);
        return i;
      }
    }
    while (i < n) {
      const c = buf[i]!;
      // Indentation and newlines are most of a pretty-printed export's bytes outside strings.
      if (c <= 0x20) {
        i++;
        continue;
      }
      if (c === QUOTE) {
        // Most strings are short keys and values: a plain loop beats a native indexOf call there.
        let j = i + 1;
        const limit = j + 24 < n ? j + 24 : n;
        while (j < limit && buf[j] !== QUOTE && buf[j] !== BACKSLASH) j++;
        if (j < limit && buf[j] === QUOTE) {
          i = j + 1;
          continue;
        }
        const end = this.stringEnd(buf, i + 1);
        if (end < 0) {
          this.inString = true;
          this.depth = depth;
          this.unsafe = unsafe;
          this.keep(buf);
          return n;
        }
        i = end + 1;
        continue;
      }
      if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
        if (++depth > maxDepth) this.deep = true;
      } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
        if (--depth === 0) {
          this.depth = 0;
          this.finish(buf, i + 1, unsafe);
          return i + 1;
        }
      } else if (checkNumbers && !unsafe && (c === 0x2d || (c >= 0x30 && c <= 0x39))) {
        let j = i + 1;
        let suspicious = c === 0x2d && buf[j] === 0x30;
        while (j < n) {
          const d = buf[j]!;
          if (d >= 0x30 && d <= 0x39) j++;
          else if (isNumberByte(d)) {
            suspicious = true;
            j++;
          } else break;
        }
        // A token cut by the buffer's end cannot be judged here: leave it to the exact parser.
        if (j === n) unsafe = true;
        else if ((suspicious || j - i > 15) && isUnsafeNumber(buf.toString('latin1', i, j))) unsafe = true;
        i = j;
        continue;
      }
      i++;
    }
    this.depth = depth;
    this.unsafe = unsafe;
    this.keep(buf);
    return n;
  }

  /** Keeps the value's bytes of this buffer for when it completes in a later one. */
  private keep(buf: Buffer): void {
    if (this.mode !== Mode.Skip && !this.oversized) {
      const part = this.valueFrom === 0 ? buf : buf.subarray(this.valueFrom);
      this.kept += part.length;
      // Memory stays flat whatever a file holds: a document past the limit is only scanned to its end.
      if (this.kept > maxDocumentBytes) {
        this.oversized = true;
        this.parts = [];
      } else {
        this.parts.push(part);
      }
    }
    this.valueFrom = 0;
  }

  private finish(buf: Buffer, end: number, unsafe: boolean): void {
    const mode = this.mode;
    if (mode !== Mode.Skip) {
      const last = buf.subarray(this.valueFrom, end);
      const start = this.valueStart;
      if (this.oversized || this.kept + last.length > maxDocumentBytes) {
        this.parts = [];
        if (mode === Mode.Doc) this.handler.unreadable(tooLargeReason, start, this.base + end, undefined);
        else this.fail(`"metadata" is ${tooLargeReason}`, start - this.base);
      } else {
        const bytes = this.parts.length ? Buffer.concat([...this.parts, last]) : last;
        this.parts = [];
        const valid = this.utf8.valid(bytes, start);
        if (mode !== Mode.Doc) {
          if (!valid) this.fail('"metadata" is not valid UTF-8', invalidOffset(bytes, start) - this.base);
          this.handler.metadata(bytes, start);
        } else if (!valid) this.handler.unreadable(invalidUtf8Reason(bytes, start), start, this.base + end, bytes);
        else if (this.deep) this.handler.unreadable(tooDeepReason, start, this.base + end, bytes);
        else this.handler.doc(bytes, unsafe, start, this.base + end);
      }
    }
    this.valueFrom = 0;
    this.state = this.after;
  }
}
