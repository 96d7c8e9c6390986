/**
 * Transforms by name or module path. Built-ins are plain functions; a user module's default export
 * is one too (`.js`, `.mjs`, or `.ts` loaded through tsx).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { messageOf, usageError } from '../errors.js';
import type { Transform } from '../types.js';
import floatToDecimal from './float-to-decimal.js';
import { numbersFromStrings } from './numbers-from-strings.js';
import stripCouchMeta from './strip-couch-meta.js';

export const builtinTransforms: Record<string, Transform> = {
  'strip-couch-meta': stripCouchMeta,
  'float-to-decimal': floatToDecimal,
};

/** Built-ins that take an argument: `--transform name=ARGUMENT`. */
export const builtinTransformsWithArgument: Record<string, (argument: string) => NamedTransform> = {
  'numbers-from-strings': numbersFromStrings,
};

/** Applied unless the caller says otherwise, as the seed's scripts did. */
export const defaultTransforms = ['strip-couch-meta'];

export interface NamedTransform {
  name: string;
  apply: Transform;
  /** Lines worth saying once a complete run has passed every document through it. */
  finish?: () => string[];
  /**
   * Never leaves a field undefined or nests a document deeper (the built-ins): the pipeline then
   * need not look at its output again. Other transforms' output is checked like a source's documents.
   */
  keepsShape?: boolean;
  /**
   * What it does, as far as can be told before running it: the spec with its argument, and a
   * module's content digest (an edited module is another transform). A checkpoint records it.
   */
  fingerprint?: string;
}

/** A built-in name, a module path, or a function. */
export type TransformSpec = string | Transform;

export async function loadTransform(spec: TransformSpec, cwd = process.cwd()): Promise<NamedTransform> {
  if (typeof spec === 'function') return { name: spec.name || 'function', apply: spec };
  const builtin = builtinTransforms[spec];
  if (builtin) return { name: spec, apply: builtin, keepsShape: true, fingerprint: spec };
  const [name, argument] = spec.split(/=(.*)/s) as [string, string | undefined];
  const withArgument = builtinTransformsWithArgument[name];
  if (withArgument) return { ...withArgument(argument ?? ''), fingerprint: spec };
  const path = resolve(cwd, spec);
  if (!existsSync(path)) {
    const known = [...Object.keys(builtinTransforms), ...Object.keys(builtinTransformsWithArgument).map((n) => `${n}=…`)];
    throw usageError('transform-not-found', `transform "${spec}" is neither a built-in (${known.join(', ')}) nor a file`);
  }
  let module: { default?: unknown };
  try {
    module = /\.[cm]?ts$/.test(path)
      ? ((await (await import('tsx/esm/api')).tsImport(pathToFileURL(path).href, import.meta.url)) as { default?: unknown })
      : ((await import(pathToFileURL(path).href)) as { default?: unknown });
  } catch (error) {
    throw usageError('transform-unreadable', `cannot load transform ${spec}: ${messageOf(error).split('\n')[0]}`, error);
  }
  // tsx may wrap a CommonJS-style default once more.
  const fn = typeof module.default === 'function' ? module.default : (module.default as { default?: unknown } | undefined)?.default;
  if (typeof fn !== 'function') throw usageError('transform-no-default', `transform ${spec} must export a function as its default export`);
  const digest = createHash('sha256').update(await readFile(path)).digest('hex').slice(0, 12);
  return { name: spec, apply: fn as Transform, fingerprint: `${spec} (sha256 ${digest})` };
}

export async function loadTransforms(specs: TransformSpec[], cwd?: string): Promise<NamedTransform[]> {
  return Promise.all(specs.map((spec) => loadTransform(spec, cwd)));
}
