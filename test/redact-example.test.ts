/**
 * examples/redact.js, the README's redaction example, run by the built CLI on the sample backup:
 * no API key value survives, test accounts and their auth sessions are dropped, nothing else is.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { gofannonCollections } from '../src/gofannon.js';
import type { Doc } from '../src/types.js';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const sample = JSON.parse(readFileSync(join(root, 'examples', 'sample-backup.json'), 'utf8')) as { data: Record<string, Doc[]> };
const isTest = (email: unknown) => String(email).endsWith('@example.test');

test('the README shows examples/redact.js as it is', () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  expect(readme).toContain(readFileSync(join(root, 'examples', 'redact.js'), 'utf8'));
});

test('redacting the sample: no API key value survives, test accounts and their sessions are dropped', () => {
  const dir = mkdtempSync(join(tmpdir(), 'redact-'));
  const result = spawnSync(
    process.execPath,
    [join(root, 'bin', 'gofannon-etl.js'), '--from', 'file:examples/sample-backup.json', '--to', `file:${join(dir, 'redacted.json')}`, '--transform', './examples/redact.js', '--report', join(dir, 'report.json')],
    { cwd: root, encoding: 'utf8', env: { ...process.env, CI: 'true' } },
  );
  expect(result.status, result.stderr).toBe(0);

  const keys = sample.data.users!.flatMap((u) => Object.values(u.apiKeys as Record<string, string | null>)).filter((k): k is string => k !== null);
  expect(keys.length).toBeGreaterThan(10);
  const text = readFileSync(join(dir, 'redacted.json'), 'utf8');
  for (const key of keys) expect(text).not.toContain(key);
  expect(text).not.toContain('@example.test');

  const out = JSON.parse(text) as { data: Record<string, Doc[]> };
  const kept = sample.data.users!.filter((u) => !isTest((u.basicInfo as Doc).email));
  expect(out.data.users!.map((u) => u._id)).toEqual(kept.map((u) => u._id));
  for (const [i, user] of out.data.users!.entries()) {
    const before = kept[i]!.apiKeys as Record<string, string | null>;
    // Every key kept; set ones masked, unset ones still null; the rest of the user untouched.
    expect(user.apiKeys).toEqual(Object.fromEntries(Object.entries(before).map(([k, v]) => [k, v === null ? null : '***'])));
    expect({ ...user, apiKeys: null }).toEqual({ ...kept[i], apiKeys: null });
  }
  expect(out.data.user_sessions!.map((s) => s._id)).toEqual(sample.data.user_sessions!.filter((s) => !isTest(s.email)).map((s) => s._id));
  for (const c of gofannonCollections.filter((c) => c !== 'users' && c !== 'user_sessions')) expect(out.data[c], c).toEqual(sample.data[c]);

  const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as { collections: Record<string, { read: number; written: number; dropped: number }> };
  expect(report.collections.users).toMatchObject({ read: 8, written: 6, dropped: 2 });
  expect(report.collections.user_sessions).toMatchObject({ read: 6, written: 5, dropped: 1 });
});
