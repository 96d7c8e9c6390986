/**
 * When a checkpoint reaches the disk. Saves are spaced (at most one every 100 ms), so a position
 * recorded right after a save waits for the interval to end; it must not wait for the next
 * position, which a stalled run (a transform awaiting something, a quiet source) never brings.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, test, vi } from 'vitest';
import { Checkpointer, type CheckpointData } from '../src/pipeline/checkpoint.js';
import { emptyStats } from '../src/pipeline/stats.js';

afterEach(() => void vi.useRealTimers());

const identity = { source: 's', target: 't', collections: null, settings: {} };
const onDisk = (path: string): CheckpointData | undefined => {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as CheckpointData;
  } catch {
    return undefined;
  }
};
const written = (n: number) => ({ agents: { ...emptyStats(), read: n, written: n } });

/** Lets the file writes of background saves finish (real I/O; only timers are faked). */
async function settle(path: string, until: (data: CheckpointData | undefined) => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !until(onDisk(path)); i++) await new Promise((resolve) => setImmediate(resolve));
}

test('a position recorded right after a save reaches the disk when the interval ends, with no later position', async () => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  const path = join(mkdtempSync(join(tmpdir(), 'ckpt-')), 'run.ckpt');
  const checkpointer = new Checkpointer(path, identity, undefined, async () => {});
  checkpointer.advance({ at: 1 }, written(25));
  await settle(path, (d) => d?.position?.at === 1);
  expect(onDisk(path)!.position).toEqual({ at: 1 });
  // Too soon for a save of its own, and nothing comes after it: the run is stalled here.
  checkpointer.advance({ at: 2 }, written(50));
  await vi.advanceTimersByTimeAsync(150);
  await settle(path, (d) => d?.position?.at === 2);
  expect(onDisk(path)).toMatchObject({ position: { at: 2 }, complete: false });
  expect(onDisk(path)!.stats.agents!.written).toBe(50);
});

test('the last save of a run is the last word: a save put off before it never overwrites it', async () => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  const path = join(mkdtempSync(join(tmpdir(), 'ckpt-')), 'run.ckpt');
  const checkpointer = new Checkpointer(path, identity, undefined, async () => {});
  checkpointer.advance({ at: 1 }, written(25));
  checkpointer.advance({ at: 2 }, written(50));
  await checkpointer.finish(true, written(60));
  await vi.advanceTimersByTimeAsync(1000);
  await settle(path, () => false);
  expect(onDisk(path)).toMatchObject({ complete: true });
  expect(onDisk(path)!.stats.agents!.written).toBe(60);
});
