/**
 * A top-level JSON array of documents (`[{"_id": …}, …]`, pretty or compact, any size): what many
 * tools and hand-made dumps hold. One collection, named after the file. Read through stream-json's
 * tokenizer, one document assembled at a time, so memory stays flat however long the array.
 */
import type { SourceChunk } from '../types.js';
import { ChunkBuilder, oneCollection, type ForeignReadOptions } from './foreign-chunks.js';
import { jsonTokens, sliceError } from './json-tokens.js';
import { ValueAssembler } from './value-assembler.js';

export async function* readDocumentArray(input: AsyncIterable<Buffer>, options: ForeignReadOptions): AsyncGenerator<SourceChunk> {
  const { name } = options;
  const collection = oneCollection(options);
  const chunks = new ChunkBuilder('array', options);
  const assembler = new ValueAssembler();
  let opened = false;
  let index = 0;
  chunks.announce(collection);
  for await (const { tokens, start } of jsonTokens(input, { signal: options.signal, collection })) {
    for (const token of tokens) {
      if (!opened) {
        if (token.name !== 'startArray') throw sliceError('expected a top-level array of documents', start, collection);
        opened = true;
      } else if (assembler.depth === 0 && token.name === 'endArray') {
        // The array's end: the tokenizer itself refuses anything but whitespace after it.
      } else {
        assembler.consume(token);
        if (!assembler.done) continue;
        if (chunks.next(collection)) chunks.add(assembler.value, `${name} [${index}]`);
        index++;
      }
    }
    yield* chunks.take();
  }
  yield* chunks.end();
}
