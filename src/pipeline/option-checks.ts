/**
 * Library options checked at run time, for JavaScript callers that TypeScript cannot stop: a wrong
 * type is a usage error naming the option and what it takes, an unknown option one that names the
 * option meant, and a Node stream where a URI, Source, Sink or transform function goes says which
 * stream API takes it. Each API lists its options in a table typed against its options interface
 * (`OptionChecks<MigrateOptions>`), so an option added to an interface fails to compile until it
 * is checked. Values are checked by their runs (`--batch-size` must be at least 1, ...).
 */
import { Readable, Writable } from 'node:stream';
import type { StoreOptions } from '../types.js';
import { usageError } from '../errors.js';

/** What is wrong with a value given for option `name`, or undefined when it fits. */
export type Check = (value: unknown, name: string) => string | undefined;

export type OptionChecks<T> = { readonly [K in keyof Required<T>]: Check };

/** `caller: ...` as a usage error when `value` does not fit. */
export function checkArgument(caller: string, name: string, value: unknown, check: Check): void {
  const problem = check(value, name);
  if (problem) throw usageError('bad-option', `${caller}: ${problem}`);
}

/** Checks every option given (undefined counts as not given) against the caller's table. */
export function checkOptions<T>(caller: string, options: unknown, checks: OptionChecks<T>): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw usageError('bad-option', `${caller} takes an options object, not ${describe(options)}`);
  }
  const known = Object.keys(checks);
  for (const [name, value] of Object.entries(options)) {
    if (!known.includes(name)) {
      const meant = known.find((k) => similar(k, name));
      throw usageError('bad-option', `${caller}: unknown option "${name}"${meant ? ` (did you mean "${meant}"?)` : ''}; it takes ${known.join(', ')}`);
    }
    if (value !== undefined) checkArgument(caller, name, value, checks[name as keyof T]);
  }
}

export const takes =
  (what: string, fits: (value: unknown) => boolean): Check =>
  (value, name) =>
    fits(value) ? undefined : `option "${name}" must be ${what}, not ${describe(value)}`;

export const isString = takes('a string', (v) => typeof v === 'string');
export const isBoolean = takes('true or false', (v) => typeof v === 'boolean');
export const isNumber = takes('a number', (v) => typeof v === 'number');
export const isFunction = takes('a function', (v) => typeof v === 'function');
export const isSignal = takes('an AbortSignal', (v) => v instanceof AbortSignal);
export const isEnvironment = takes('an object of variables, like process.env', (v) => v !== null && typeof v === 'object' && !Array.isArray(v));
export const isShard = takes(
  "{ index, count } or a string like '2/4' or 'auto/4'",
  (v) => typeof v === 'string' || (v !== null && typeof v === 'object' && !Array.isArray(v) && 'index' in v && 'count' in v),
);
export const isNames = takes(
  "an array of collection names, e.g. ['agents']",
  (v) => Array.isArray(v) && v.every((n) => typeof n === 'string' && n !== ''),
);

/** Built-in names, module paths or functions; a stream is pointed at the stream API. */
export const isTransforms: Check = (value, name) => {
  if (!Array.isArray(value)) return `option "${name}" must be an array of transforms (built-in names, module paths or functions), not ${describe(value)}`;
  for (const [i, item] of value.entries()) {
    if (isStream(item)) {
      return `${name}[${i}] is a Node stream, where a transform function (doc, context) => doc goes: run documents through a stream with pipeline(readDocuments(from), yourStream, writeDocuments(to))`;
    }
    if (typeof item !== 'string' && typeof item !== 'function') return `${name}[${i}] must be a built-in name, a module path or a function, not ${describe(item)}`;
  }
  return undefined;
};

const sourceMembers = ['label', 'provider', 'identity', 'listCollections', 'read', 'close'];
const sinkMembers = ['label', 'provider', 'batchSize', 'concurrency', 'identity', 'prepare', 'write', 'close'];

/** A URI or a Source; a stream is pointed at fileSource or writeDocuments. */
export const isSource: Check = (value, name) => {
  if (typeof value === 'string') return undefined;
  if (isStream(value)) {
    return `"${name}" is a Node stream, where a URI or a Source goes: for an export file's bytes give fileSource(yourStream, { format: 'json' }); to write a stream of { collection, doc } records, pipeline(yourStream, writeDocuments(to))`;
  }
  return contract(value, name, 'Source', sourceMembers);
};

/** A URI or a Sink; a stream is pointed at fileSink or readDocuments. */
export const isSink: Check = (value, name) => {
  if (typeof value === 'string') return undefined;
  if (isStream(value)) {
    return `"${name}" is a Node stream, where a URI or a Sink goes: for an export file's bytes give fileSink(yourStream, { format: 'json' }); to send { collection, doc } records into a stream, pipeline(readDocuments(from), yourStream)`;
  }
  return contract(value, name, 'Sink', sinkMembers);
};

export const storeOptionChecks: OptionChecks<StoreOptions> = {
  onConflict: takes("'overwrite', 'skip' or 'fail'", (v) => typeof v === 'string'),
  concurrency: isNumber,
  batchSize: isNumber,
  segments: isNumber,
  tablePrefix: isString,
  includeDesign: isBoolean,
  enableStream: isBoolean,
  // Which formats there are is the file source's to say (`--format must be one of ...`).
  format: isString,
  collectionName: isString,
  retries: isNumber,
  env: isEnvironment,
  warn: isFunction,
};

function contract(value: unknown, name: string, kind: string, members: string[]): string | undefined {
  if (value === null || typeof value !== 'object') return `"${name}" must be a URI or a ${kind}, not ${describe(value)}`;
  const missing = members.filter((m) => !(m in value));
  return missing.length === 0 ? undefined : `"${name}" is not a ${kind}: it lacks ${missing.join(', ')} (the contract is in gofannon-etl's types: ${kind})`;
}

function isStream(value: unknown): boolean {
  if (value instanceof Readable || value instanceof Writable) return true;
  const v = value as { pipe?: unknown; on?: unknown; write?: unknown; end?: unknown } | null;
  return v !== null && typeof v === 'object' && typeof v.on === 'function' && (typeof v.pipe === 'function' || (typeof v.write === 'function' && typeof v.end === 'function'));
}

/** `the string "agents"`, `a number (3)`, `an array`, ... for messages. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'number' || typeof value === 'boolean') return `the ${typeof value} ${String(value)}`;
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object') return `an object (${value.constructor?.name ?? 'Object'})`;
  return typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`;
}

/** Same name but for case, separators, or up to two edits: a likely typo. */
function similar(a: string, b: string): boolean {
  const x = a.toLowerCase().replace(/[^a-z0-9]/g, '');
  const y = b.toLowerCase().replace(/[^a-z0-9]/g, '');
  return x === y || distance(x, y) <= Math.min(2, Math.floor(x.length / 3));
}

function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = row;
  }
  return previous[b.length]!;
}
