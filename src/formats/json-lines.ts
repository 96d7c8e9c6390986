/**
 * Bytes into JSON values a line, for the line-oriented formats of other tools (couchbackup files,
 * the data files of a DynamoDB export). Lines are cut on bytes and each is decoded whole, so a
 * character is never split; bytes that are not UTF-8 stop the read at their line rather than become
 * U+FFFD. Numbers are kept exact (parseJson).
 */
import { isUtf8 } from 'node:buffer';
import { InputError } from './export-reader.js';
import { JsonSyntaxError, parseJson } from './parse.js';

export interface JsonLine {
  value: unknown;
  /** 1-based. */
  number: number;
  /** Byte offset of the line's first byte. */
  start: number;
}

/**
 * The input's non-blank lines, parsed, a batch per input chunk. A line that is not UTF-8 or not
 * JSON stops the read with its line and byte offset (in `collection`, for the message).
 */
export async function* readJsonLines(input: AsyncIterable<Buffer>, options: { signal: AbortSignal; collection?: string }): AsyncGenerator<JsonLine[]> {
  let number = 1;
  let base = 0;
  let lineStart = 0;
  let carry: Buffer[] = [];
  const parse = (raw: Buffer, into: JsonLine[]) => {
    if (!isUtf8(raw)) throw new InputError(`line ${number}: not valid UTF-8`, lineStart, options.collection);
    const text = raw.toString('utf8');
    if (text.trim() === '') return;
    try {
      into.push({ value: parseJson(text), number, start: lineStart });
    } catch (error) {
      if (!(error instanceof JsonSyntaxError)) throw error;
      throw new InputError(`line ${number}: ${error.reason}`, lineStart + Buffer.byteLength(text.slice(0, error.position)), options.collection);
    }
  };
  for await (const buf of input) {
    options.signal.throwIfAborted();
    const batch: JsonLine[] = [];
    let from = 0;
    for (let newline = buf.indexOf(0x0a); newline >= 0; newline = buf.indexOf(0x0a, from)) {
      const piece = buf.subarray(from, newline);
      parse(carry.length ? Buffer.concat([...carry, piece]) : piece, batch);
      carry = [];
      number++;
      from = newline + 1;
      lineStart = base + from;
    }
    if (from < buf.length) carry.push(buf.subarray(from));
    base += buf.length;
    if (batch.length) yield batch;
  }
  const last: JsonLine[] = [];
  if (carry.length) parse(Buffer.concat(carry), last);
  if (last.length) yield last;
}
