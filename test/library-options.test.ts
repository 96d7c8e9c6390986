/**
 * Library options checked at run time, as a JavaScript caller meets them: a wrong type is a usage
 * error naming the option and what it takes, a typo names the option meant, and a Node stream
 * where a URI, Source, Sink or transform function goes points at the stream API that takes it.
 */
import { PassThrough, Readable, Transform, Writable } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { EtlError } from '../src/errors.js';
import { fileSink, fileSource } from '../src/library/file-streams.js';
import { readDocuments } from '../src/library/read-documents.js';
import { writeDocuments } from '../src/library/write-documents.js';
import { migrate } from '../src/pipeline.js';
import { memoryStore } from '../src/stores/memory/store.js';
import { verify } from '../src/verify/verify.js';
import { uniquePrefix } from './corpus.js';

/** The usage error a call throws (or rejects with). */
async function usage(call: () => unknown): Promise<string> {
  try {
    await call();
  } catch (error) {
    expect(error).toBeInstanceOf(EtlError);
    expect(error).toMatchObject({ kind: 'usage', code: 'bad-option' });
    return (error as EtlError).message;
  }
  throw new Error('expected a usage error');
}

/** As a JavaScript caller passes them: no types to stop anything. */
const untyped = <T>(options: unknown) => options as T;

describe('migrate and verify', () => {
  test("collections: 'agents' (a string) is refused, where it read nothing and said ok", async () => {
    memoryStore('options-from').set('agents', new Map([['a', { _id: 'a' }]]));
    expect(await usage(() => migrate(untyped({ from: 'memory:options-from', to: 'null', collections: 'agents' })))).toBe(
      `migrate: option "collections" must be an array of collection names, e.g. ['agents'], not the string "agents"`,
    );
    expect(await usage(() => verify(untyped({ from: 'memory:options-from', to: 'memory:x', collections: 'agents' })))).toMatch(/^verify: option "collections" must be an array/);
  });

  test('a Readable as from, a Writable as to, a stream.Transform as a transform: pointed at the stream API', async () => {
    const from = await usage(() => migrate(untyped({ from: Readable.from([]), to: 'null' })));
    expect(from).toBe(
      `migrate: "from" is a Node stream, where a URI or a Source goes: for an export file's bytes give fileSource(yourStream, { format: 'json' }); to write a stream of { collection, doc } records, pipeline(yourStream, writeDocuments(to))`,
    );
    const to = await usage(() => migrate(untyped({ from: 'memory', to: new Writable() })));
    expect(to).toBe(
      `migrate: "to" is a Node stream, where a URI or a Sink goes: for an export file's bytes give fileSink(yourStream, { format: 'json' }); to send { collection, doc } records into a stream, pipeline(readDocuments(from), yourStream)`,
    );
    const transform = await usage(() => migrate(untyped({ from: 'memory', to: 'null', transforms: ['float-to-decimal', new Transform()] })));
    expect(transform).toBe(
      'migrate: transforms[1] is a Node stream, where a transform function (doc, context) => doc goes: run documents through a stream with pipeline(readDocuments(from), yourStream, writeDocuments(to))',
    );
    expect(await usage(() => verify(untyped({ from: 'memory', to: new PassThrough() })))).toMatch(/^verify: "to" is a Node stream, where a URI or a Source goes/);
  });

  test('wrong types, typos, something that is not a Sink, and not an options object at all', async () => {
    expect(await usage(() => migrate(untyped({ from: 'memory', to: 'null', transforms: 'float-to-decimal' })))).toBe(
      'migrate: option "transforms" must be an array of transforms (built-in names, module paths or functions), not the string "float-to-decimal"',
    );
    expect(await usage(() => migrate(untyped({ from: 'memory', to: 'null', batchSize: '100' })))).toBe('migrate: option "batchSize" must be a number, not the string "100"');
    expect(await usage(() => migrate(untyped({ from: 'memory', to: 'null', dryRun: 'yes' })))).toBe('migrate: option "dryRun" must be true or false, not the string "yes"');
    expect(await usage(() => migrate(untyped({ from: 'memory', to: 'null', signal: new AbortController() })))).toBe(
      'migrate: option "signal" must be an AbortSignal, not an object (AbortController)',
    );
    expect(await usage(() => migrate(untyped({ from: 'memory', to: 'null', colections: ['agents'] })))).toMatch(/^migrate: unknown option "colections" \(did you mean "collections"\?\); it takes .*collections/);
    expect(await usage(() => migrate(untyped({ from: 'memory', to: 'null', dead_letter: 'x.ndjson' })))).toMatch(/^migrate: unknown option "dead_letter" \(did you mean "deadLetter"\?\)/);
    expect(await usage(() => migrate(untyped({ from: 'memory', to: { write() {} } })))).toBe(
      `migrate: "to" is not a Sink: it lacks label, provider, batchSize, concurrency, identity, prepare, close (the contract is in gofannon-etl's types: Sink)`,
    );
    expect(await usage(() => migrate(untyped('memory')))).toBe('migrate takes an options object, not the string "memory"');
  });

  test('options left undefined are not given (as the CLI passes them), and a Source and Sink pass', async () => {
    const to = `memory:${uniquePrefix()}`;
    const report = await migrate({ from: 'memory:options-from', to, concurrency: undefined, batchSize: undefined, transforms: undefined, deadLetter: undefined });
    expect(report.ok).toBe(true);
  });
});

describe('readDocuments, writeDocuments, fileSource, fileSink: checked when called', () => {
  test('a wrong option throws at the call, before any stream exists', () => {
    expect(() => readDocuments('memory', untyped({ collections: 'agents' }))).toThrow(`readDocuments: option "collections" must be an array of collection names, e.g. ['agents'], not the string "agents"`);
    expect(() => readDocuments('memory', untyped({ onConflict: 'skip' }))).toThrow(/^readDocuments: unknown option "onConflict"; it takes /);
    expect(() => writeDocuments('memory', untyped({ batchSize: '10' }))).toThrow('writeDocuments: option "batchSize" must be a number, not the string "10"');
    expect(() => writeDocuments('memory', untyped({ segments: 4 }))).toThrow(/^writeDocuments: unknown option "segments"/);
    expect(() => writeDocuments('memory', untyped({ highWaterMark: '16' }))).toThrow('writeDocuments: option "highWaterMark" must be a number, not the string "16"');
  });

  test('streams where a URI, Source or Sink goes are pointed at the right API', () => {
    expect(() => readDocuments(untyped(new PassThrough({ objectMode: true })))).toThrow(/^readDocuments: "from" is a Node stream, where a URI or a Source goes: for an export file's bytes give fileSource/);
    expect(() => writeDocuments(untyped(new PassThrough()))).toThrow(/^writeDocuments: "to" is a Node stream, where a URI or a Sink goes: for an export file's bytes give fileSink/);
    expect(() => readDocuments(untyped(42))).toThrow('readDocuments: "from" must be a URI or a Source, not the number 42');
  });

  test('fileSource and fileSink take byte streams and a format they know', () => {
    expect(() => fileSource(untyped({}))).toThrow("fileSource: the first argument must be a Node Readable of an export file's bytes");
    expect(() => fileSource(Readable.from([]), untyped({ format: 'csv' }))).toThrow('fileSource: option "format" must be one of json, ndjson, couchbackup, firestore-export, array, not the string "csv"');
    expect(() => fileSink(new PassThrough(), untyped({ format: 'couchbackup' }))).toThrow(`fileSink: option "format" must be 'json' or 'ndjson', not the string "couchbackup"`);
    expect(() => fileSink(untyped(Readable.from([])))).toThrow("fileSink: the first argument must be a Node Writable for the export file's bytes");
    expect(() => fileSink(new PassThrough(), untyped({ gzip: 'yes' }))).toThrow('fileSink: option "gzip" must be true or false, not the string "yes"');
  });

  test('records instead of bytes into fileSource: a usage error when read, naming the stream', async () => {
    const records = Readable.from([{ collection: 'agents', doc: { _id: 'a' } }]);
    await expect(migrate({ from: fileSource(records, { name: 'records' }), to: 'null' })).rejects.toMatchObject({
      kind: 'usage',
      message: 'records: the stream gave an object, not bytes; a stream of { collection, doc } records goes to writeDocuments, not fileSource',
    });
  });
});
