/**
 * `numbers-from-strings=FIELDS`: numbers a backup holds as strings, turned back into numbers in the
 * fields the user names, and nowhere else.
 *
 * The seed's export.py writes with `json.dump(..., default=str)` and the app reads every DynamoDB
 * number as a Decimal, so a backup export.py made from DynamoDB holds "0.000375" where the app
 * stored 0.000375. Which strings were numbers cannot be told from the text ("2025" may be a key,
 * "1e3" a name), so only named fields are converted.
 *
 * FIELDS: comma-separated `collection.path.to.field`. A list met on the way is walked element by
 * element (`users.usageInfo.usage[].responseCost`; the `[]` is optional). A named field that a
 * document lacks or that holds null or a number is left as it is (parameters differ per model); a
 * string there that is not a JSON number, or any other value, fails the document. Converted text
 * keeps its digits: a double where it carries them, an ExactNumber otherwise.
 */
import { usageError } from '../errors.js';
import { ExactNumber, numberFromText } from '../formats/exact-number.js';
import type { Doc, JsonValue, TransformContext } from '../types.js';
import type { NamedTransform } from './index.js';

const name = 'numbers-from-strings';

const jsonNumber = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

interface Rule {
  /** As the user wrote it, for messages. */
  text: string;
  /** Documents of the collection seen, and those that had the field. */
  seen: number;
  found: number;
}

/** A conversion to make once the whole document has passed. */
interface Change {
  container: { [key: string]: JsonValue } | JsonValue[];
  key: string | number;
  value: JsonValue;
}

const isObject = (v: JsonValue | undefined): v is { [key: string]: JsonValue } =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof ExactNumber);

function kind(v: JsonValue): string {
  if (Array.isArray(v)) return 'a list';
  if (isObject(v)) return 'an object';
  return `a ${typeof v}`;
}

function parseFields(spec: string): Rule[] {
  const fields = spec.split(',').map((f) => f.trim()).filter(Boolean);
  if (fields.length === 0) {
    throw usageError('transform-arguments', `${name} needs the fields to convert: --transform ${name}=users.usageInfo.spendRemaining,agent_data_store.accessCount`);
  }
  for (const field of fields) {
    const segments = field.split('.');
    if (segments.length < 2 || segments.some((s) => s.replace(/\[\]$/, '') === '')) {
      throw usageError('transform-arguments', `${name}: "${field}" is not collection.field (e.g. users.usageInfo.usage[].responseCost)`);
    }
  }
  return fields.map((text) => ({ text, seen: 0, found: 0 }));
}

/**
 * Finds what to convert at `path` below `container[key]`, walking lists element by element.
 * Returns whether the field was there; throws on a value that cannot be a number.
 */
function collect(container: Change['container'], key: string | number, path: string[], where: string, changes: Change[]): boolean {
  const value = (container as { [key: string]: JsonValue })[key as string];
  if (value === undefined) return false;
  if (value === null) return true;
  if (Array.isArray(value)) {
    let found = false;
    value.forEach((_, i) => (found = collect(value, i, path, `${where}[${i}]`, changes) || found));
    return found;
  }
  if (path.length > 0) {
    if (!isObject(value)) throw new Error(`${where} is ${kind(value)}, not an object with ${path[0]}`);
    return collect(value, path[0]!, path.slice(1), `${where}.${path[0]}`, changes);
  }
  if (typeof value === 'number' || value instanceof ExactNumber) return true;
  // Not the value: a field named by mistake could hold a secret.
  if (typeof value !== 'string') throw new Error(`${where} is ${kind(value)}, not a number written as a string`);
  if (!jsonNumber.test(value)) throw new Error(`${where} holds a string that is not a number`);
  changes.push({ container, key, value: numberFromText(value) });
  return true;
}

export function numbersFromStrings(spec: string): NamedTransform {
  const rules = parseFields(spec);
  const byCollection = new Map<string, { rule: Rule; path: string[] }[]>();
  const rulesFor = (collection: string) => {
    let found = byCollection.get(collection);
    if (!found) {
      // Matched by prefix, so a collection whose name has dots still works.
      found = rules
        .filter((r) => r.text.startsWith(`${collection}.`))
        .map((rule) => ({ rule, path: rule.text.slice(collection.length + 1).split('.').map((s) => s.replace(/\[\]$/, '')) }));
      byCollection.set(collection, found);
    }
    return found;
  };

  const apply = (doc: Doc, { collection }: TransformContext): Doc => {
    const changes: Change[] = [];
    const found: Rule[] = [];
    const named = rulesFor(collection);
    for (const { rule, path } of named) {
      if (collect(doc, path[0]!, path.slice(1), `${collection}.${path[0]}`, changes)) found.push(rule);
    }
    // Only once every named field passed: a failed document goes to the dead letters as it was.
    for (const { container, key, value } of changes) (container as { [key: string]: JsonValue })[key as string] = value;
    for (const { rule } of named) rule.seen++;
    for (const rule of found) rule.found++;
    return doc;
  };

  /** A named field no document had is most likely misspelt: say so rather than convert nothing quietly. */
  const finish = (): string[] =>
    rules.flatMap((r) => {
      if (r.seen === 0) return [`${name}: no document of the collection in ${r.text} came through`];
      if (r.found === 0) return [`${name}: none of ${r.seen} documents had ${r.text}`];
      return [];
    });

  return { name, apply, finish, keepsShape: true };
}
