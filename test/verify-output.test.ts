/**
 * What verify tells a user on a large difference: the first lines as they are found, then counts
 * for the rest, and with `--report FILE` every difference (0600). Progress is reported per side, as
 * migrate reports a run.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { printedDifferences } from '../src/cli/differences.js';
import { memoryStore } from '../src/stores/memory/store.js';
import type { Doc, Progress } from '../src/types.js';
import { verify } from '../src/verify/verify.js';

const bin = new URL('../bin/gofannon-etl.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'verify-output-'));

function exportOf(name: string, agents: Doc[]): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify({ metadata: { provider: 'file', exported_at: '2026-11-25T00:00:00', collections: ['agents'] }, data: { agents } }));
  return path;
}

const agents = Array.from({ length: 500 }, (_, i) => ({ _id: `a${String(i).padStart(4, '0')}`, n: i }));

test('the first differences are printed, the rest counted; --report holds every one', () => {
  const source = exportOf('source.json', agents);
  // 400 missing, 10 changed, 3 extra.
  const target = exportOf('target.json', [...agents.slice(0, 90), ...agents.slice(90, 100).map((a) => ({ ...a, n: -1 })), { _id: 'x1' }, { _id: 'x2' }, { _id: 'x3' }]);
  const report = join(dir, 'differences.json');
  const result = spawnSync(process.execPath, [bin, 'verify', '--from', `file:${source}`, '--to', `file:${target}`, '--report', report], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
  expect(result.status).toBe(1);
  const printed = result.stdout.split('\n').filter((line) => /^(missing|changed|extra) +agents /.test(line));
  expect(printed).toHaveLength(printedDifferences);
  const rest = 413 - printedDifferences;
  expect(result.stdout).toMatch(new RegExp(`\\.\\.\\. and ${rest} more differences \\(\\d+ missing(, \\d+ changed)?(, \\d+ extra)?\\): every one is in ${report}`));
  const written = JSON.parse(readFileSync(report, 'utf8')) as { identical: boolean; differences: { kind: string; _id: string }[]; collections: Record<string, { missing: number; changed: number; extra: number }> };
  expect(written.identical).toBe(false);
  expect(written.differences).toHaveLength(413);
  expect(written.differences.filter((d) => d.kind === 'missing')).toHaveLength(400);
  expect(written.differences.filter((d) => d.kind === 'changed').map((d) => d._id).sort()).toEqual(agents.slice(90, 100).map((a) => a._id));
  expect(written.collections.agents).toMatchObject({ missing: 400, changed: 10, extra: 3 });
  expect(statSync(report).mode & 0o777).toBe(0o600);
});

test('without --report the count line says how to get the full list; an identical target writes an empty list', () => {
  const source = exportOf('source2.json', agents);
  const result = spawnSync(process.execPath, [bin, 'verify', '--from', `file:${source}`, '--to', `file:${exportOf('empty.json', [])}`], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
  expect(result.status).toBe(1);
  expect(result.stdout).toContain(`... and ${500 - printedDifferences} more differences (${500 - printedDifferences} missing): verify --report FILE lists every one`);
  const report = join(dir, 'same.json');
  const same = spawnSync(process.execPath, [bin, 'verify', '--from', `file:${source}`, '--to', `file:${source}`, '--report', report], { encoding: 'utf8' });
  expect(same.status).toBe(0);
  expect(JSON.parse(readFileSync(report, 'utf8'))).toMatchObject({ identical: true, differences: [] });
});

test('progress: each side under its own name, ending with one final report', async () => {
  memoryStore('verify-progress-from').set('agents', new Map(agents.map((a) => [a._id, a])));
  memoryStore('verify-progress-to').set('agents', new Map(agents.slice(0, 100).map((a) => [a._id, a])));
  const reports: Progress[] = [];
  const result = await verify({ from: 'memory:verify-progress-from', to: 'memory:verify-progress-to', onProgress: (p) => reports.push(p) });
  expect(result.collections.agents!.missing).toBe(400);
  const last = reports.at(-1)!;
  expect(last.done).toBe(true);
  expect(reports.filter((p) => p.done)).toHaveLength(1);
  expect(last.collections.agents).toMatchObject({ read: 500, written: 500 });
  expect(last.collections['agents (target)']).toMatchObject({ read: 100, written: 100 });
});
