/**
 * Gofannon's layout as ../shared/design.md describes it ("Nine collections" and the bullet list of
 * shapes after it), read from the prose so the sample is checked against the document, not a copy.
 *
 * The bullets write fields in backticks: `name`, `name {a, b}` (an object with those fields),
 * `name [{a, b}]` (a list of such objects), `name {key: [..]}` (a single `key: shape` entry: an
 * object keyed by arbitrary names, e.g. `tools`), `[..]` (a list of anything); a parenthesis right
 * after a field is a hint (`(int)`, `(any JSON)`), and `` `_id` = `…` `` gives the id's format. A
 * collection's fields start at its backticked name followed by `:` (or by a parenthesis and `:`).
 */
import { readFileSync } from 'node:fs';

export type Shape =
  | { kind: 'record'; fields: Field[] }
  | { kind: 'map'; value: Shape | undefined }
  | { kind: 'array'; of: Shape | undefined };

export interface Field {
  name: string;
  shape?: Shape;
  /** Text of the parenthesis right after the field, e.g. "int". */
  hint?: string;
  /** What follows `= ` after the field, e.g. "userId:namespace:base64url(key)". */
  format?: string;
}

export interface DesignLayout {
  collections: string[];
  fields: Record<string, Field[]>;
  /** The sentence "Dates are ISO strings everywhere" is there. */
  datesAreIso: boolean;
}

/** The section from "**Nine collections**" to the first line after its bullets. */
function section(markdown: string): { intro: string; bullets: string[]; after: string } {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l.includes('**Nine collections**'));
  if (start < 0) throw new Error('design.md has no "**Nine collections**" paragraph');
  const intro: string[] = [];
  let i = start;
  for (; i < lines.length && !lines[i]!.startsWith('- '); i++) intro.push(lines[i]!);
  const bullets: string[] = [];
  for (; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('- ')) bullets.push(line.slice(2));
    else if (/^\s+\S/.test(line) && bullets.length) bullets[bullets.length - 1] += ` ${line.trim()}`;
    else break;
  }
  return { intro: intro.join(' '), bullets, after: lines[i] ?? '' };
}

/** Parses one backticked field spec: `ident`, `ident {…}`, `ident [{…}]`. */
function parseSpec(text: string): Field {
  let pos = 0;
  const fail = (what: string): never => {
    throw new Error(`design.md: cannot read \`${text}\` at ${pos}: ${what}`);
  };
  const space = () => {
    while (text[pos] === ' ') pos++;
  };
  const ident = (): string => {
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(pos));
    if (!m) return fail('expected a name');
    pos += m[0].length;
    return m[0];
  };
  const shape = (): Shape | undefined => {
    space();
    if (text.startsWith('..', pos)) {
      pos += 2;
      return undefined;
    }
    if (text[pos] === '[') {
      pos++;
      const of = shape();
      space();
      if (text[pos++] !== ']') fail('expected ]');
      return { kind: 'array', of };
    }
    if (text[pos] !== '{') return fail('expected { or [');
    pos++;
    const entries: { field: Field; keyed: boolean }[] = [];
    for (;;) {
      space();
      const name = ident();
      space();
      const keyed = text[pos] === ':';
      if (keyed) pos++;
      space();
      const inner = text[pos] === '{' || text[pos] === '[' ? shape() : undefined;
      entries.push({ field: inner ? { name, shape: inner } : { name }, keyed });
      space();
      if (text[pos] === ',') pos++;
      else break;
    }
    if (text[pos++] !== '}') fail('expected }');
    const only = entries.length === 1 ? entries[0]! : undefined;
    if (only?.keyed) return { kind: 'map', value: only.field.shape };
    return { kind: 'record', fields: entries.map((e) => e.field) };
  };
  const name = ident();
  space();
  const field: Field = pos < text.length ? { name, shape: shape() } : { name };
  space();
  if (pos !== text.length) fail('unexpected text');
  return field;
}

export function parseDesignLayout(markdown: string): DesignLayout {
  const { intro, bullets, after } = section(markdown);
  const collections = [...intro.split('Shapes')[0]!.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]!);
  const fields: Record<string, Field[]> = {};
  for (const bullet of bullets) {
    let current: Field[] | undefined;
    let last: Field | undefined;
    for (const m of bullet.matchAll(/`([^`]+)`/g)) {
      const text = m[1]!;
      const before = bullet.slice(0, m.index).trimEnd();
      const rest = bullet.slice(m.index + m[0].length);
      if (collections.includes(text) && /^\s*(\([^)]*\))?:/.test(rest)) {
        current = fields[text] = [];
        last = undefined;
      } else if (before.endsWith('=') && last) {
        last.format = text;
      } else if (current) {
        last = parseSpec(text);
        const hint = /^\s*\(([^)]*)\)/.exec(rest);
        if (hint) last.hint = hint[1]!;
        current.push(last);
      }
    }
  }
  return { collections, fields, datesAreIso: /Dates are ISO strings everywhere/.test(after) };
}

export function readDesignLayout(path: string): DesignLayout {
  return parseDesignLayout(readFileSync(path, 'utf8'));
}

/** Every field path of a collection: `usageInfo.usage[].responseCost`, `tools{}`, … */
export function fieldPaths(fields: Field[], prefix = ''): string[] {
  const out: string[] = [];
  const walk = (shape: Shape | undefined, path: string) => {
    if (!shape) return;
    if (shape.kind === 'record') for (const f of shape.fields) out.push(...fieldPaths([f], path));
    else if (shape.kind === 'array') walk(shape.of, `${path}[]`);
    else walk(shape.value, `${path}{}`);
  };
  for (const f of fields) {
    const path = prefix ? `${prefix}.${f.name}` : f.name;
    out.push(path);
    if (f.shape) walk(f.shape, path);
  }
  return out;
}
