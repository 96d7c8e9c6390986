/**
 * `gofannon-etl report merge`, through the built CLI on the reports real `--shard` runs wrote: counts summed,
 * the longest duration, every dead-letter file named, the merged run's exit code; and the refusals
 * (one line, exit 2): reports of different runs, the same shard twice, a missing shard.
 */
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { mergeReports } from '../src/index.js';
import type { RunReport, Shard } from '../src/types.js';
import { failure } from './helpers.js';
import { cleanEnv, generatedDoc, runCli } from './generated-export.js';

const dir = mkdtempSync(join(tmpdir(), 'report-merge-'));
const at = (name: string) => join(dir, name);
const cli = (args: string[]) => runCli(args, cleanEnv());
const read = (name: string) => JSON.parse(readFileSync(at(name), 'utf8')) as RunReport;

function ndjson(name: string, counts: Record<string, number>, bad = 0): string {
  const lines = Object.entries(counts).flatMap(([c, n]) => Array.from({ length: n }, (_, i) => JSON.stringify({ collection: c, doc: generatedDoc(c, i) })));
  for (let i = 0; i < bad; i++) lines.push(JSON.stringify({ collection: 'agents', doc: { name: 'no id' } }));
  writeFileSync(at(name), `${lines.join('\n')}\n`);
  return at(name);
}

/** The report a real run wrote: of `shard` (`--shard`, the report then named for it), or of the whole source. */
async function shardReport(name: string, source: string, shard: Shard | undefined, extra: string[] = []): Promise<string> {
  const sharded = shard ? ['--shard', `${shard.index}/${shard.count}`] : [];
  const result = await cli(['--from', `file:${source}`, '--to', 'null', '--report', at(name), '--quiet', ...sharded, ...extra]);
  expect(result.stderr).not.toContain('Error');
  const written = shard ? at(name.replace(/\.json$/, `.shard-${shard.index}-of-${shard.count}.json`)) : at(name);
  expect((JSON.parse(readFileSync(written, 'utf8')) as RunReport).shard).toEqual(shard);
  return written;
}

const readAt = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as RunReport;

let source: string;
beforeAll(() => {
  source = ndjson('in.ndjson', { agents: 30, users: 12 }, 2);
});

describe('report merge', () => {
  test('adds the shards: counts per collection, totals, the longest duration, dead letters with every path; 0600; exit 1 as the run', async () => {
    const parts = await Promise.all([0, 1, 2].map((k) => shardReport('part.json', source, { index: k, count: 3 }, ['--dead-letter', at('dead.ndjson')])));
    const reports = parts.map(readAt);
    // Durations differ so the longest is known.
    reports.forEach((r, k) => writeFileSync(parts[k]!, JSON.stringify({ ...r, durationMs: 100 * (k + 1) })));
    const result = await cli(['report', 'merge', ...parts, '--out', at('merged.json')]);
    expect(result.code, result.stderr).toBe(1);
    const merged = read('merged.json');
    // The shards' counts add up to the source's: 30 agents and the 2 lines without _id, 12 users.
    expect(merged.collections.agents).toEqual({ read: 32, written: 30, skipped: 0, dropped: 0, failed: 2, deleted: 0 });
    expect(merged.collections.users).toEqual({ read: 12, written: 12, skipped: 0, dropped: 0, failed: 0, deleted: 0 });
    expect(merged.total).toEqual({ read: 44, written: 42, skipped: 0, dropped: 0, failed: 2, deleted: 0 });
    expect(merged.durationMs).toBe(300);
    expect(merged.ok).toBe(false);
    expect(merged.shard).toBeUndefined();
    const withDeadLetters = reports.filter((r) => r.deadLetters.count > 0).map((r) => r.deadLetters.path);
    expect(withDeadLetters.length).toBeGreaterThan(0);
    expect(merged.deadLetters).toEqual({ count: 2, paths: withDeadLetters });
    expect(statSync(at('merged.json')).mode & 0o777).toBe(0o600);
    expect(result.stdout).toContain(`2 documents could not be written; they are in ${withDeadLetters.join(', ')}`);
    expect(result.stdout).toMatch(/total\s+44\s+42\s+0\s+0\s+2/);
  });

  test('all shards ok: ok, exit 0, and without --out the JSON goes to stdout', async () => {
    const clean = ndjson('clean.ndjson', { agents: 5 });
    const parts = await Promise.all([0, 1].map((k) => shardReport('clean.json', clean, { index: k, count: 2 })));
    const result = await cli(['report', 'merge', ...parts]);
    expect(result.code, result.stderr).toBe(0);
    const merged = JSON.parse(result.stdout) as RunReport;
    expect(merged.ok).toBe(true);
    expect(merged.total.written).toBe(5);
  });

  test('an interrupted shard makes the merged run interrupted (exit 130)', async () => {
    const clean = ndjson('stopped.ndjson', { agents: 5 });
    const parts = await Promise.all([0, 1].map((k) => shardReport('stopped.json', clean, { index: k, count: 2 })));
    writeFileSync(parts[1]!, JSON.stringify({ ...readAt(parts[1]!), ok: false, interrupted: true }));
    const result = await cli(['report', 'merge', ...parts, '--out', at('stopped.json')]);
    expect(result.code).toBe(130);
    expect(read('stopped.json')).toMatchObject({ ok: false, interrupted: true });
  });

  test('refuses reports of different runs, naming the file and what differs', async () => {
    const other = ndjson('other.ndjson', { agents: 3 });
    const a = await shardReport('run-a.json', source, { index: 0, count: 2 });
    const b = await shardReport('run-b.json', other, { index: 1, count: 2 });
    const result = await cli(['report', 'merge', a, b, '--out', at('never.json')]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(`${b} is a report of another run than ${a}: source "file:`);
    expect(() => statSync(at('never.json'))).toThrow();

    const transformed = await shardReport('run-c.json', source, { index: 1, count: 2 }, ['--transform', 'float-to-decimal']);
    const differentTransforms = await cli(['report', 'merge', a, transformed]);
    expect(differentTransforms.code).toBe(2);
    expect(differentTransforms.stderr).toContain('transforms [');
  });

  test('refuses the same shard twice, and a missing shard, saying which', async () => {
    const parts = await Promise.all([0, 1, 2, 3].map((k) => shardReport('four.json', source, { index: k, count: 4 })));
    const twice = await shardReport('four-again.json', source, { index: 2, count: 4 });
    const duplicate = await cli(['report', 'merge', ...parts, twice]);
    expect(duplicate.code).toBe(2);
    expect(duplicate.stderr).toContain(`${parts[2]} and ${twice} are both shard 2/4`);

    const missing = await cli(['report', 'merge', parts[0]!, parts[2]!]);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toBe('gofannon-etl: missing the report of shard 1/4, 3/4: a merged report must cover every shard');

    const mixed = await cli(['report', 'merge', parts[0]!, await shardReport('whole.json', source, undefined)]);
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toContain('is a report of a whole run, not of a shard');
  });

  test('a file that is not a report is named (exit 2)', async () => {
    writeFileSync(at('junk.json'), '{"hello": 1}');
    const result = await cli(['report', 'merge', at('junk.json')]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(`gofannon-etl: ${at('junk.json')}: not a run report (no source, collections and total)`);
  });

  test('the library\'s mergeReports: the same sums, and a refusal is a usage error (reports-differ)', async () => {
    const parts = await Promise.all([0, 1].map((k) => shardReport('lib.json', source, { index: k, count: 2 })));
    const reports = parts.map(readAt);
    expect(mergeReports(reports).total).toEqual({ read: 44, written: 42, skipped: 0, dropped: 0, failed: 2, deleted: 0 });
    const refused = await failure(async () => mergeReports([reports[0]!]));
    expect(refused).toMatchObject({ kind: 'usage', code: 'reports-differ', message: 'missing the report of shard 1/2: a merged report must cover every shard' });
  });
});
