/** The built CLI as a user runs it: exit codes, one-line errors, where messages and data go. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';

const bin = new URL('../bin/gofannon-etl.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'cli-'));

function run(args: string[], input?: string) {
  const result = spawnSync(process.execPath, [bin, ...args], { input, encoding: 'utf8', env: { ...process.env, CI: 'true' }, cwd: dir });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const exportFile = (name: string, data: unknown, metadata: unknown = { provider: 'couchdb', exported_at: '2026-01-11T10:00:00', collections: Object.keys(data as object) }) => {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify({ metadata, data }, null, 2));
  return path;
};

describe('gofannon-etl', () => {
  test('--help lists every source and target with examples; --version answers', () => {
    const help = run(['--help']);
    expect(help.code).toBe(0);
    for (const scheme of ['file', 'memory', 'couchdb', 'dynamodb', 'firestore', 'null']) expect(help.stdout).toContain(scheme);
    expect(help.stdout).toContain('gofannon-etl --from file:backup.json --to dynamodb\n');
    expect(help.stdout).toContain('COUCHDB_URL');
    expect(run(['verify', '--help']).stdout).toContain('gofannon-etl verify --from file:backup.json --to dynamodb\n');
    expect(run(['--version']).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  test('an unknown scheme or option is one line and exit 2', () => {
    const scheme = run(['--from', 'mongo://x', '--to', 'null']);
    expect(scheme.code).toBe(2);
    expect(scheme.stderr.trim()).toBe('gofannon-etl: unknown source "mongo": known sources are file, memory, couchdb, couchdbs, dynamodb, firestore');
    const option = run(['--from', 'memory', '--to', 'null', '--bogus']);
    expect(option.code).toBe(2);
    expect(option.stderr).toContain('Unknown argument: bogus');
    expect(run(['--from', 'file:missing.json', '--to', 'null']).code).toBe(2);
    expect(run(['--from', 'memory', '--to', 'null', '--transform', './nope.js']).code).toBe(2);
    expect(run(['--from', 'couchdb', '--to', 'null'], undefined).stderr).toMatch(/COUCHDB_URL/);
  });

  test('a truncated export stops with where it broke, exit 3, no stack unless --verbose', () => {
    const good = readFileSync(exportFile('good.json', { agents: [{ _id: 'a', name: 'x'.repeat(50) }, { _id: 'b' }] }), 'utf8');
    const path = join(dir, 'truncated.json');
    writeFileSync(path, good.slice(0, good.indexOf('"b"')));
    const result = run(['--from', `file:${path}`, '--to', 'null']);
    expect(result.code).toBe(3);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/truncated\.json: unexpected end of file at byte \d+ \(line \d+\) in collection "agents" \(\d+ documents? were written before it\)/)]);
    const verbose = run(['--from', `file:${path}`, '--to', 'null', '--verbose']);
    expect(verbose.stderr).toMatch(/\n\s+at /);
  });

  test('copies file to file through a transform module, with exact numbers and dead letters', () => {
    const source = join(dir, 'in.json');
    writeFileSync(source, `{"metadata": {"provider": "couchdb", "exported_at": "x", "collections": ["users"]}, "data": {"users": [
      {"_id": "u1", "_rev": "2-x", "basicInfo": {"email": "ada@example.com"}, "apiKeys": {"openaiApiKey": "sk-live-123"}, "credits": 9007199254740993, "rate": 0.10000000000000000001},
      {"_id": "u2", "basicInfo": {"email": "test@example.test"}},
      {"basicInfo": {"email": "no-id@example.com"}}
    ]}}`);
    const result = run(['--from', `file:${source}`, '--to', 'file:out.json', '--transform', new URL('../examples/redact.js', import.meta.url).pathname, '--dead-letter', 'dead.ndjson']);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/users\s+3\s+1\s+0\s+1\s+1/);
    expect(result.stdout).toContain('1 document could not be written; they are in dead.ndjson');
    const out = readFileSync(join(dir, 'out.json'), 'utf8');
    expect(out).toContain('"credits": 9007199254740993');
    expect(out).toContain('"rate": 0.10000000000000000001');
    expect(out).not.toContain('sk-live-123');
    expect(out).not.toContain('_rev');
    expect(JSON.parse(readFileSync(join(dir, 'dead.ndjson'), 'utf8'))).toMatchObject({ collection: 'users', reason: 'document has no _id' });
  });

  test('--dry-run prints the plan and writes nothing', () => {
    const source = exportFile('plan.json', { agents: [{ _id: 'a' }, { _id: 'b' }], users: [{ name: 'no id' }] });
    const result = run(['--from', `file:${source}`, '--to', 'file:never.json', '--dry-run']);
    expect(result.stdout).toContain('Plan (dry run: nothing was written)');
    expect(result.stdout).toMatch(/agents\s+2\s+2\s+0\s+0/);
    expect(result.stdout).toMatch(/users\s+1\s+0\s+0\s+1/);
    expect(result.stdout).toContain('transforms  strip-couch-meta');
    expect(result.stderr).toContain('document has no _id');
    expect(() => readFileSync(join(dir, 'never.json'))).toThrow();
  });

  test('stdin to stdout: data alone on stdout, messages on stderr', () => {
    const input = JSON.stringify({ data: { agents: [{ _id: 'a', n: 12345678901234567890 }] } }).replace('12345678901234567000', '12345678901234567890');
    const result = run(['--from', 'file:-', '--to', 'file:-'], input);
    expect(result.code).toBe(0);
    const data = JSON.parse(result.stdout) as { data: { agents: unknown[] } };
    expect(data.data.agents).toHaveLength(1);
    expect(result.stdout).toContain('12345678901234567890');
    expect(result.stderr).toContain('Done');
    // stdin was read up and stdout keeps nothing: there is no verify to suggest.
    expect(result.stderr).not.toContain('verify');
  });

  test('verify exits 0 on identical copies and 1 naming each difference', () => {
    const a = exportFile('a.json', { agents: [{ _id: 'x', v: 1 }, { _id: 'y', v: 1 }] });
    const b = exportFile('b.json', { agents: [{ _id: 'x', v: 1.0 }, { _id: 'y', v: 2 }, { _id: 'z' }] });
    expect(run(['verify', '--from', `file:${a}`, '--to', `file:${a}`]).code).toBe(0);
    const diff = run(['verify', '--from', `file:${a}`, '--to', `file:${b}`]);
    expect(diff.code).toBe(1);
    expect(diff.stdout).toMatch(/changed\s+agents y/);
    expect(diff.stdout).toMatch(/extra\s+agents z/);
    expect(diff.stdout).toContain('Different');
  });
});
