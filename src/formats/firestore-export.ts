/**
 * Files of node-firestore-import-export (`firestore-export -b backup.json`):
 *
 *   {"__collections__": {"<collection>": {"<docId>": {…fields, "__collections__": {…}}}}}
 *
 * or, exported from one collection (`--nodePath agents`), its documents keyed by id at the top
 * (the collection is then named after the file). Values the JSON cannot carry are tagged
 * `{"__datatype__": "timestamp"|"geopoint"|"documentReference", "value": …}` and come out as our
 * Firestore source gives them: an RFC 3339 string, `{latitude, longitude}`, the document's path.
 *
 * Gofannon has no subcollections: a document's `__collections__` are never flattened into other
 * collections. Each document found in one is dead-lettered with its path, and its parent is
 * written without them. A tag we cannot read dead-letters its document.
 *
 * Streamed: the nesting is walked token by token and one document is assembled at a time.
 */
import { usageError } from '../errors.js';
import type { JsonValue, SourceChunk } from '../types.js';
import { ExactNumber } from './exact-number.js';
import { ChunkBuilder, oneCollection, type ForeignReadOptions } from './foreign-chunks.js';
import { jsonTokens, sliceError, type Token } from './json-tokens.js';
import { isoTimestamp } from './timestamp.js';
import { ValueAssembler } from './value-assembler.js';

type JsonObject = { [key: string]: JsonValue };

/** Where the walk is: the object whose keys come next. */
type Frame =
  | { kind: 'root'; mode?: 'database' | 'collection' }
  /** A `__collections__` map: keys are collection names. `owner` is the document path ('' at the root). */
  | { kind: 'collections'; owner: string; top?: string }
  /** A collection: keys are document ids. `top` is the root collection it is in. */
  | { kind: 'documents'; path: string; top: string; sub: boolean }
  | { kind: 'document'; path: string; top: string; sub: boolean; doc: JsonObject; problem?: string };

const collectionsKey = '__collections__';

const num = (value: JsonValue | undefined): number | undefined =>
  typeof value === 'number' ? value : value instanceof ExactNumber ? Number(value.text) : undefined;

const isObject = (value: JsonValue | undefined): value is JsonObject =>
  value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof ExactNumber);

/** A tagged value as plain JSON, or why it cannot be read. */
export function decodeDatatype(tagged: JsonObject): { value: JsonValue } | { problem: string } {
  const type = tagged.__datatype__;
  const value = tagged.value;
  const bad = (what: string) => ({ problem: `__datatype__ ${JSON.stringify(type)} ${what}` });
  if (!('value' in tagged)) return bad('has no "value"');
  switch (type) {
    case 'timestamp': {
      if (typeof value === 'string') {
        const ms = Date.parse(value);
        return Number.isNaN(ms) ? bad(`with a value that is not a date: ${JSON.stringify(value)}`) : { value: new Date(ms).toISOString() };
      }
      const seconds = isObject(value) ? num(value._seconds ?? value.seconds) : undefined;
      const nanos = isObject(value) ? num(value._nanoseconds ?? value.nanoseconds) : undefined;
      if (!Number.isSafeInteger(seconds) || !Number.isInteger(nanos) || nanos! < 0 || nanos! > 999_999_999) return bad('without whole _seconds and _nanoseconds');
      return { value: isoTimestamp(seconds!, nanos!) };
    }
    case 'geopoint': {
      const latitude = isObject(value) ? (value._latitude ?? value.latitude) : undefined;
      const longitude = isObject(value) ? (value._longitude ?? value.longitude) : undefined;
      if (num(latitude) === undefined || num(longitude) === undefined) return bad('without _latitude and _longitude');
      return { value: { latitude: latitude!, longitude: longitude! } };
    }
    case 'documentReference':
      return typeof value === 'string' ? { value } : bad('whose value is not a path');
    default:
      return { problem: `unknown __datatype__ ${JSON.stringify(type)}` };
  }
}

export async function* readFirestoreExport(input: AsyncIterable<Buffer>, options: ForeignReadOptions): AsyncGenerator<SourceChunk> {
  const { name } = options;
  const chunks = new ChunkBuilder('firestore-export', options);
  const stack: Frame[] = [];
  const innermostDocument = () => {
    for (let i = stack.length - 1; i >= 0; i--) if (stack[i]!.kind === 'document') return stack[i] as Extract<Frame, { kind: 'document' }>;
    return undefined;
  };
  const assembler = new ValueAssembler((object) => {
    if (!('__datatype__' in object)) return object;
    const decoded = decodeDatatype(object);
    if ('value' in decoded) return decoded.value;
    const document = innermostDocument();
    if (document) document.problem ??= decoded.problem;
    return object;
  });
  /** The key whose value comes next, in the frame on top; undefined between keys. */
  let key: string | undefined;
  /** Where an assembled value goes (a field, or a document that is not an object). */
  let assembling: ((value: JsonValue) => void) | undefined;
  /** Where the current slice of the file starts, for error lines. */
  let sliceStart = 0;

  /** Hands a token to the assembler and the value, once complete, to where it goes. */
  const feed = (token: Token) => {
    assembler.consume(token);
    if (!assembler.done) return;
    const deliver = assembling!;
    assembling = undefined;
    deliver(assembler.value);
  };

  const fail = (reason: string): never => {
    throw sliceError(reason, sliceStart);
  };

  const emit = (frame: { path: string; top: string; sub: boolean }, doc: unknown, problem: string | undefined) => {
    if (!chunks.next(frame.top)) return;
    const where = `${name} ${frame.path}`;
    if (frame.sub) {
      const collection = frame.path.slice(0, frame.path.lastIndexOf('/'));
      chunks.refuse(doc, `in subcollection ${collection}: Gofannon's layout has no subcollections, so it is not imported`, where);
    } else if (problem) chunks.refuse(doc, problem, where);
    else chunks.add(doc, where);
  };

  /** A document (or what stands in its place) starts under `id` in a collection frame. */
  const openDocument = (token: Token, parent: { path: string; top: string; sub: boolean }, id: string) => {
    const frame = { path: `${parent.path}/${id}`, top: parent.top, sub: parent.sub };
    if (token.name === 'startObject') {
      stack.push({ kind: 'document', ...frame, doc: { _id: id } });
      return;
    }
    // Not an object: handed over as it is, for the pipeline to dead-letter as "not a document".
    assembling = (value) => emit(frame, value, undefined);
    feed(token);
  };

  const onKey = (frame: Frame, token: Token) => {
    const k = key!;
    key = undefined;
    switch (frame.kind) {
      case 'root':
        if (frame.mode === undefined) {
          frame.mode = k === collectionsKey ? 'database' : 'collection';
          if (frame.mode === 'database' && options.collectionGiven) {
            throw usageError('collection-name', `${name} holds a whole Firestore database, each collection under its own name: --collection-name applies to a file of one collection`);
          }
          if (frame.mode === 'collection') chunks.announce(oneCollection(options));
        }
        if (frame.mode === 'database') {
          if (k !== collectionsKey) {
            fail(`a top-level field ${JSON.stringify(k)} next to "__collections__": this is the export of one document (--nodePath to a document); export the database or a collection`);
          }
          if (token.name !== 'startObject') fail('"__collections__" is not an object of collections');
          stack.push({ kind: 'collections', owner: '' });
          return;
        }
        return openDocument(token, { path: options.collection!, top: options.collection!, sub: false }, k);
      case 'collections': {
        const path = frame.owner ? `${frame.owner}/${k}` : k;
        if (token.name !== 'startObject') fail(`collection ${path} is not an object of documents keyed by id`);
        if (!frame.owner) chunks.announce(k);
        stack.push({ kind: 'documents', path, top: frame.top ?? k, sub: frame.owner !== '' });
        return;
      }
      case 'documents':
        return openDocument(token, frame, k);
      case 'document':
        if (k === collectionsKey) {
          if (token.name !== 'startObject') fail(`"__collections__" of ${frame.path} is not an object of collections`);
          stack.push({ kind: 'collections', owner: frame.path, top: frame.top });
          return;
        }
        // The document id is `_id`, as Gofannon reads it back; a stored `_id` field does not override it.
        assembling = k === '_id' ? () => {} : (value) => void (frame.doc[k] = value);
        feed(token);
    }
  };

  const onToken = (token: Token) => {
    if (assembling) return feed(token);
    const frame = stack[stack.length - 1];
    if (!frame) {
      if (token.name !== 'startObject') fail('expected an object (a node-firestore-import-export file)');
      stack.push({ kind: 'root' });
      return;
    }
    if (key !== undefined) return onKey(frame, token);
    if (token.name === 'keyValue') {
      key = token.value;
      return;
    }
    // Only endObject can come between keys: the frame is complete.
    stack.pop();
    if (frame.kind === 'document') {
      const { doc, problem } = frame;
      emit(frame, doc, problem);
    }
  };

  for await (const { tokens, start } of jsonTokens(input, { signal: options.signal })) {
    sliceStart = start;
    for (const token of tokens) onToken(token);
    yield* chunks.take();
  }
  yield* chunks.end();
}
