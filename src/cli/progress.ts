/**
 * Progress on stderr (never stdout: it may carry the data). On a terminal: a live bar per
 * collection (cli-progress does the redrawing), and once a follow's snapshot is copied a
 * "following" line under them; elsewhere (CI, pipes): a short line every few seconds; with
 * --quiet: nothing.
 */
import cliProgress from 'cli-progress';
import type { CollectionStats, FollowProgress, Progress } from '../types.js';
import { formatLag, rate } from './summary.js';

export type ProgressMode = 'bars' | 'lines' | 'none';

export interface ProgressView {
  update(progress: Progress): void;
  /** Prints a message without tearing the bars. */
  log(line: string): void;
  stop(): void;
}

const lineIntervalMs = 5000;

const handled = (s: CollectionStats) => s.written + s.skipped + s.dropped + s.failed + (s.deleted ?? 0);

/** `following: 120 changes applied, 40/s, 3 changes behind the source`. */
export function followingLine(f: FollowProgress): string {
  return `following: ${f.applied} changes applied, ${rate(f.applied, f.elapsedMs)}, ${formatLag(f)}`;
}

function clock(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

const mb = (bytes: number) => (bytes / 1e6).toFixed(bytes < 1e8 ? 1 : 0);

/** Seconds left, from how far a known total is after `elapsedMs`; undefined until there is a rate. */
export function etaMs(done: number, total: number, elapsedMs: number): number | undefined {
  if (done <= 0 || total <= 0 || done > total) return undefined;
  return (elapsedMs * (total - done)) / done;
}

export function chooseMode(options: { quiet: boolean; stream: NodeJS.WriteStream; env: NodeJS.ProcessEnv }): ProgressMode {
  if (options.quiet) return 'none';
  return options.stream.isTTY && !options.env.CI ? 'bars' : 'lines';
}

export function progressView(mode: ProgressMode, stream: NodeJS.WriteStream): ProgressView {
  if (mode === 'bars') return barsView(stream);
  if (mode === 'lines') return linesView(stream);
  return { update: () => {}, log: (line) => void stream.write(`${line}\n`), stop: () => {} };
}

function linesView(stream: NodeJS.WriteStream): ProgressView {
  let last = Date.now();
  return {
    update(p) {
      const now = Date.now();
      if (p.done || now - last < lineIntervalMs) return;
      last = now;
      if (p.following) return void stream.write(`[${clock(p.elapsedMs)}] ${followingLine(p.following)}\n`);
      const parts: string[] = [];
      const total = Object.values(p.collections).reduce((n, s) => n + handled(s), 0);
      if (p.collection) {
        const done = handled(p.collections[p.collection]!);
        const expected = p.expected[p.collection];
        parts.push(`${p.collection} ${done}${expected ? `/${expected}` : ''} docs`);
      }
      parts.push(`total ${total} docs, ${Math.round((total * 1000) / Math.max(1, p.elapsedMs))}/s`);
      const eta = p.source ? etaMs(p.source.done, p.source.total, p.elapsedMs) : undefined;
      if (p.source) parts.push(`input ${Math.floor((100 * p.source.done) / p.source.total)}%`);
      if (eta !== undefined) parts.push(`ETA ${clock(eta)}`);
      stream.write(`[${clock(p.elapsedMs)}] ${parts.join(' | ')}\n`);
    },
    log: (line) => void stream.write(`${line}\n`),
    stop: () => {},
  };
}

function barsView(stream: NodeJS.WriteStream): ProgressView {
  const multibar = new cliProgress.MultiBar(
    { stream, hideCursor: true, clearOnComplete: false, fps: 5, barsize: 24, autopadding: true, forceRedraw: true, format: '{label} {bar} {percentage}% | {detail}' },
    cliProgress.Presets.shades_classic,
  );
  let input: cliProgress.SingleBar | undefined;
  let following: cliProgress.SingleBar | undefined;
  /** `until`: when the count last moved, so a finished collection keeps the rate it had. */
  const bars = new Map<string, { bar: cliProgress.SingleBar; started: number; done: number; until: number }>();
  const width = (name: string) => name.padEnd(12);
  // One last redraw first: cli-progress prints logged lines only when it redraws.
  const stop = () => {
    if (!multibar.isActive) return;
    multibar.update();
    multibar.stop();
  };
  return {
    update(p) {
      if (p.source) {
        input ??= multibar.create(p.source.total, 0, { label: width('input'), detail: '' });
        const eta = etaMs(p.source.done, p.source.total, p.elapsedMs);
        input.update(p.source.done, { detail: `${mb(p.source.done)}/${mb(p.source.total)} MB${eta !== undefined ? ` | ETA ${clock(eta)}` : ''}` });
      }
      // Once following, the collections' bars keep what the snapshot copied; the following line counts the changes.
      for (const [name, s] of p.following ? [] : Object.entries(p.collections)) {
        const expected = p.expected[name];
        let entry = bars.get(name);
        if (!entry) {
          const format = expected ? undefined : '{label} {detail}';
          entry = { bar: multibar.create(expected ?? 0, 0, { label: width(name), detail: '' }, format ? { format } : {}), started: p.elapsedMs, done: 0, until: p.elapsedMs };
          bars.set(name, entry);
        }
        const done = handled(s);
        if (done !== entry.done) Object.assign(entry, { done, until: p.elapsedMs });
        const seconds = Math.max(0.001, (entry.until - entry.started) / 1000);
        const eta = expected ? etaMs(done, expected, entry.until - entry.started) : undefined;
        const detail = `${done}${expected ? `/${expected}` : ''} docs | ${Math.round(done / seconds)}/s${eta !== undefined && done < expected! ? ` | ETA ${clock(eta)}` : ''}${s.failed ? ` | ${s.failed} failed` : ''}`;
        entry.bar.update(expected ? Math.min(done, expected) : 0, { detail });
      }
      if (p.following) {
        following ??= multibar.create(0, 0, { label: width('following'), detail: '' }, { format: '{label} {detail}' });
        following.update(0, { detail: followingLine(p.following).replace(/^following: /, '') });
      }
      if (p.done) stop();
    },
    log: (line) => (multibar.isActive ? multibar.log(`${line}\n`) : void stream.write(`${line}\n`)),
    stop,
  };
}
