import { Writable } from 'node:stream';
import { afterEach, expect, test, vi } from 'vitest';
import type { Progress } from '../src/types.js';
import { chooseMode, etaMs, progressView } from '../src/cli/progress.js';

function capture(isTTY: boolean) {
  let text = '';
  const stream = new Writable({ write: (chunk, _e, done) => { text += String(chunk); done(); } }) as unknown as NodeJS.WriteStream;
  Object.assign(stream, { isTTY, columns: 120, cursorTo: () => true, clearLine: () => true, moveCursor: () => true });
  return { stream, text: () => text };
}

const progress = (elapsedMs: number, written: number, extra: Partial<Progress> = {}): Progress => ({
  collection: 'agents',
  collections: { agents: { read: written, written, skipped: 0, dropped: 0, failed: 0, deleted: 0 } },
  elapsedMs,
  expected: { agents: 1000 },
  done: false,
  ...extra,
});

afterEach(() => vi.useRealTimers());

test('the mode follows the terminal, CI and --quiet', () => {
  const tty = capture(true).stream;
  const pipe = capture(false).stream;
  expect(chooseMode({ quiet: false, stream: tty, env: {} })).toBe('bars');
  expect(chooseMode({ quiet: false, stream: tty, env: { CI: 'true' } })).toBe('lines');
  expect(chooseMode({ quiet: false, stream: pipe, env: {} })).toBe('lines');
  expect(chooseMode({ quiet: true, stream: tty, env: {} })).toBe('none');
});

test('off a terminal, a short line every few seconds with rate and ETA', () => {
  vi.useFakeTimers();
  const out = capture(false);
  const view = progressView('lines', out.stream);
  view.update(progress(1000, 100));
  expect(out.text()).toBe('');
  vi.advanceTimersByTime(5001);
  view.update(progress(6000, 600, { source: { done: 60, total: 100 } }));
  expect(out.text()).toBe('[0:06] agents 600/1000 docs | total 600 docs, 100/s | input 60% | ETA 0:04\n');
});

test('on a terminal, a bar per collection with docs/s and ETA', () => {
  const out = capture(true);
  const view = progressView('bars', out.stream);
  view.update(progress(2000, 500));
  view.update({ ...progress(4000, 1000), done: true });
  expect(out.text()).toContain('agents');
  expect(out.text()).toMatch(/1000\/1000 docs \| \d+\/s/);
  view.stop();
});

test('a finished collection keeps the rate it had', () => {
  const out = capture(true);
  const view = progressView('bars', out.stream);
  view.update(progress(0, 0));
  view.update(progress(1000, 1000));
  view.update({ ...progress(9000, 1000), done: true });
  expect(out.text()).toMatch(/1000\/1000 docs \| 1000\/s/);
  expect(out.text()).not.toMatch(/\| 111\/s/);
  view.stop();
});

test('ETA from how far a known total is', () => {
  expect(etaMs(25, 100, 1000)).toBe(3000);
  expect(etaMs(0, 100, 1000)).toBeUndefined();
});

test('following, off a terminal: changes applied, their rate and the lag, in changes and seconds where the feed says', () => {
  vi.useFakeTimers();
  const out = capture(false);
  const view = progressView('lines', out.stream);
  vi.advanceTimersByTime(5001);
  view.update(progress(6000, 1000, { following: { applied: 120, elapsedMs: 3000, caughtUp: false, lag: { changes: 35, seconds: 2.25 } } }));
  vi.advanceTimersByTime(5001);
  view.update(progress(11000, 1000, { following: { applied: 400, elapsedMs: 8000, caughtUp: true, lag: { changes: 0 } } }));
  expect(out.text()).toBe('[0:06] following: 120 changes applied, 40/s, 35 changes, 2.3 s behind the source\n[0:11] following: 400 changes applied, 50/s, caught up with the source\n');
});

test('following, on a terminal: the collections keep their snapshot counts and a following line counts the changes', () => {
  const out = capture(true);
  const view = progressView('bars', out.stream);
  view.update(progress(1000, 1000));
  view.update(progress(5000, 1500, { following: { applied: 500, elapsedMs: 4000, caughtUp: false, lag: { seconds: 1 } } }));
  view.update({ ...progress(6000, 1500, { following: { applied: 500, elapsedMs: 5000, caughtUp: false, lag: { seconds: 1 } } }), done: true });
  expect(out.text()).toMatch(/following +500 changes applied, 100\/s, 1\.0 s behind the source/);
  expect(out.text()).toMatch(/1000\/1000 docs/);
  expect(out.text()).not.toMatch(/1500\/1000 docs/);
  view.stop();
});
