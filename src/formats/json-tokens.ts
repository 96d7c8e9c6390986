/**
 * JSON of any shape and size as a stream of tokens, through stream-json's tokenizer: the reference
 * parser for the general shapes other tools write (a top-level array, nested maps of documents),
 * where our byte scanner's fast path does not apply. Flat memory: only the text not yet tokenized is
 * held. Numbers stay text (`numberValue` tokens), so exact numbers survive (see ValueAssembler).
 *
 * Bytes are decoded strictly (bytes that are not UTF-8 stop the read, never become U+FFFD) and fed
 * in slices of at most 16 KiB, so an error names the slice it was found in: stream-json's messages
 * carry no position of their own.
 */
import { getManyValues, isMany, none } from 'stream-chain/defs.js';
import { jsonParser, type Token } from 'stream-json/parser.js';
import { InputError } from './export-reader.js';

export type { Token };

const sliceBytes = 16 * 1024;

/** Tokens of one slice of the input, and the byte offset the slice starts at. */
export interface TokenBatch {
  tokens: Token[];
  start: number;
}

/**
 * A problem found in a slice: stream-json gives tokens no position, so the error names the slice
 * (`… in the 16 KiB starting at byte 32768 (line 900)`, the source adds the " at byte").
 */
export function sliceError(reason: string, start: number, collection?: string): InputError {
  return new InputError(`${reason}, in the ${sliceBytes / 1024} KiB starting`, start, collection);
}

/** Tokens of the input, a batch per slice. `jsonStreaming` accepts several top-level values in a row. */
export async function* jsonTokens(input: AsyncIterable<Buffer>, options: { signal: AbortSignal; jsonStreaming?: boolean; collection?: string }): AsyncGenerator<TokenBatch> {
  // A flushable stage: called with text, then once with `none` to end (its type names only the text).
  const parse = jsonParser({ packValues: true, streamValues: false, jsonStreaming: options.jsonStreaming ?? false }) as (chunk: string | typeof none) => unknown;
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let offset = 0;
  let atStart = true;
  const step = (slice: Buffer | undefined): Token[] => {
    let text: string;
    try {
      text = slice ? decoder.decode(slice, { stream: true }) : decoder.decode();
    } catch {
      throw sliceError('not valid UTF-8', offset, options.collection);
    }
    if (atStart && text) {
      atStart = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    try {
      const out = slice ? parse(text) : parse(none);
      return out === none ? [] : isMany(out) ? (getManyValues(out) as Token[]) : [out as Token];
    } catch (error) {
      const reason = (error as Error).message.replace(/^Parser (cannot parse input: |has )/, '');
      throw slice ? sliceError(`malformed JSON (${reason})`, offset, options.collection) : new InputError(`unexpected end of file (${reason})`, offset, options.collection);
    }
  };
  for await (const buf of input) {
    options.signal.throwIfAborted();
    for (let from = 0; from < buf.length; from += sliceBytes) {
      const slice = buf.subarray(from, from + sliceBytes);
      const tokens = step(slice);
      if (tokens.length) yield { tokens, start: offset };
      offset += slice.length;
    }
  }
  const last = step(undefined);
  if (last.length) yield { tokens: last, start: offset };
}
