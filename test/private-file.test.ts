/** Files we write whole (checkpoints, reports): owner-only, and no temp file outlives a killed writer. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { writePrivateAtomic } from '../src/util/private-file.js';

test("a temp file left by a writer that was killed (no longer running) is removed; a running one's is left", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'private-'));
  const path = join(dir, 'run.ckpt');
  // A process that has ended: its pid is not running (pids are not reused that fast).
  const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
  writeFileSync(`${path}.${gone}.tmp`, '{"half":');
  // The test runner's parent is running: a temp file of a live writer stays.
  writeFileSync(`${path}.${process.ppid}.tmp`, '{}');
  writeFileSync(join(dir, 'other.ckpt.1.tmp'), '{}');

  await writePrivateAtomic(path, '{"ok":true}\n');

  expect(readFileSync(path, 'utf8')).toBe('{"ok":true}\n');
  expect(statSync(path).mode & 0o777).toBe(0o600);
  expect(existsSync(`${path}.${gone}.tmp`)).toBe(false);
  expect(existsSync(`${path}.${process.ppid}.tmp`)).toBe(true);
  expect(existsSync(join(dir, 'other.ckpt.1.tmp'))).toBe(true);
  expect(existsSync(`${path}.${process.pid}.tmp`)).toBe(false);
});
