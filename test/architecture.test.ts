/**
 * The import rule of docs/architecture.md, checked: the table there is read as written, so the
 * document and the check cannot drift apart. Every file in src/ must sit where a row places it,
 * and may import only from what its row allows.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { posix } from 'node:path';
import { describe, expect, test } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const contracts = ['types.ts', 'errors.ts', 'gofannon.ts'];

interface Rule {
  /** Files (`types.ts`) and folders (`util/`, `stores/<store>/`) the row is about. */
  places: string[];
  /** What they may import: the same notation, plus `itself` and `stores/<same>/`. */
  allowed: string[];
}

/** The rows of the table under "## Folders": `| where | what | may import |`, backticked names. */
function rulesOf(markdown: string): Rule[] {
  const section = markdown.split(/^## /m).find((s) => s.startsWith('Folders'));
  if (!section) throw new Error('docs/architecture.md has no "## Folders" section');
  const ticked = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
  return section
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => {
      const cells = line.split('|').map((c) => c.trim());
      const allowedCell = cells[3] ?? '';
      const allowed = ticked(allowedCell.replace(/\([^)]*\)/g, ''));
      if (/\bcontracts\b/.test(allowedCell)) allowed.push(...contracts);
      if (/\bitself\b/.test(allowedCell)) allowed.push('itself');
      return { places: ticked(cells[1]!), allowed };
    });
}

/** The place a src-relative path belongs to: the most specific one a rule names. */
function placeOf(path: string, rules: Rule[]): string | undefined {
  let best: string | undefined;
  for (const place of rules.flatMap((r) => r.places)) {
    const matches = place.endsWith('/') ? prefixOf(place, path) !== undefined : path === place;
    if (matches && (best === undefined || specificity(place) > specificity(best))) best = place;
  }
  return best;
}

/** For a folder place, the concrete folder of `path` it covers (`stores/<store>/` → `stores/couchdb/`). */
function prefixOf(place: string, path: string): string | undefined {
  if (!place.includes('<')) return path.startsWith(place) ? place : undefined;
  const [head] = place.split('<');
  if (!path.startsWith(head!)) return undefined;
  const name = path.slice(head!.length).split('/')[0]!;
  return path.slice(head!.length).includes('/') ? `${head}${name}/` : undefined;
}

const specificity = (place: string) => (place.includes('<') ? place.indexOf('<') : place.length * 2);

const base = (path: string) => posix.basename(path).replace(/\.ts$/, '');

/** Relative imports of a file: static, `export … from`, side-effect and dynamic. */
function importsOf(text: string): string[] {
  return [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1]!);
}

/** Every broken rule in `files` (src-relative path → source text), as one line each. */
function violations(files: Map<string, string>, rules: Rule[]): string[] {
  const found: string[] = [];
  for (const [path, text] of files) {
    const place = placeOf(path, rules);
    if (!place) {
      found.push(`${path}: no row of docs/architecture.md places it`);
      continue;
    }
    const rule = rules.find((r) => r.places.includes(place))!;
    for (const spec of importsOf(text)) {
      const target = posix.normalize(posix.join(posix.dirname(path), spec)).replace(/\.js$/, '.ts');
      if (target.startsWith('..')) {
        found.push(`${path} imports ${spec}, outside src/`);
        continue;
      }
      const targetPlace = placeOf(target, rules);
      const ok =
        targetPlace !== undefined &&
        (rule.allowed.includes(targetPlace) ||
          rule.allowed.includes(prefixOf(targetPlace, target) ?? targetPlace) ||
          (rule.allowed.includes('itself') && prefixOf(place, path) === prefixOf(targetPlace, target)) ||
          (rule.allowed.includes('stores/<same>/') && targetPlace === 'stores/<store>/' && prefixOf(targetPlace, target) === `stores/${base(path)}/`));
      if (!ok) found.push(`${path} (${place}) imports ${target} (${targetPlace ?? 'unplaced'}), which its row does not allow`);
    }
  }
  return found;
}

function sourceFiles(dir: string, prefix = ''): Map<string, string> {
  const files = new Map<string, string>();
  for (const name of readdirSync(dir)) {
    const full = posix.join(dir, name);
    if (statSync(full).isDirectory()) for (const [p, t] of sourceFiles(full, `${prefix}${name}/`)) files.set(p, t);
    else if (name.endsWith('.ts')) files.set(`${prefix}${name}`, readFileSync(full, 'utf8'));
  }
  return files;
}

const rules = rulesOf(readFileSync(posix.join(root, 'docs/architecture.md'), 'utf8'));

describe('architecture', () => {
  test('the rule table is there and names every layer', () => {
    const places = rules.flatMap((r) => r.places);
    for (const place of ['util/', 'formats/', 'stores/common/', 'stores/<store>/', 'sources/', 'sinks/', 'pipeline/', 'pipeline.ts', 'cli/', 'verify/', 'transforms/', ...contracts]) {
      expect(places).toContain(place);
    }
  });

  test('every file in src/ sits where a row places it and imports only what its row allows', () => {
    expect(violations(sourceFiles(posix.join(root, 'src')), rules)).toEqual([]);
  });

  test('the check catches a store reaching into another store, the engine, or an unplaced file', () => {
    const broken = new Map([
      ['sources/couchdb.ts', "import { openDynamoApi } from '../stores/dynamodb/client.js';\nimport { a } from '../stores/couchdb/client.js';"],
      ['stores/common/retry.ts', "import { migrate } from '../../pipeline.js';"],
      ['stores/couchdb/client.ts', "import { x } from '../firestore/client.js';\nimport { y } from './endpoint.js';"],
      ['sinks/null.ts', "const m = await import('../cli.js');"],
      ['loose.ts', ''],
    ]);
    expect(violations(broken, rules)).toEqual([
      expect.stringMatching(/^sources\/couchdb\.ts .*stores\/dynamodb\/client\.ts/),
      expect.stringMatching(/^stores\/common\/retry\.ts .*pipeline\.ts/),
      expect.stringMatching(/^stores\/couchdb\/client\.ts .*stores\/firestore\/client\.ts/),
      expect.stringMatching(/^sinks\/null\.ts .*cli\.ts/),
      'loose.ts: no row of docs/architecture.md places it',
    ]);
  });
});
