/**
 * The built CLI as a follower, for the `--follow` end-to-end tests: its output watched for a line
 * (a gate), the checkpoint polled with a deadline, and a transform that holds the snapshot.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cleanEnv, cliPath, type CliResult } from './generated-export.js';

/**
 * Holds the snapshot at its HOLD_AT-th document until SIGUSR2, saying `held` and the `_id`s it has
 * passed on (as JSON) on stderr: the test changes documents the snapshot has already read, then
 * releases it. Without HOLD_AT (the resumed run, which must name the same transforms) it passes
 * every document through. Tests write it as `hold.mjs` in their directory.
 */
export const holdTransform = `let seen = [];
export default async function hold(doc) {
  seen.push(doc._id);
  if (seen.length === Number(process.env.HOLD_AT)) {
    const alive = setInterval(() => {}, 1000);
    const released = new Promise((resolve) => process.once('SIGUSR2', resolve));
    process.stderr.write('held ' + JSON.stringify(seen) + '\\n');
    await released;
    clearInterval(alive);
  }
  return doc;
}
`;

export interface Follower {
  child: ChildProcess;
  stderr(): string;
  done: Promise<CliResult>;
  /** Resolves once stderr holds `text`. */
  said(text: string): Promise<void>;
}

/** Starts the built CLI in `dir`, with the environment cleanEnv gives plus `env`. */
export function startFollower(dir: string, args: string[], env: NodeJS.ProcessEnv = {}): Follower {
  const child = spawn(process.execPath, [cliPath, ...args], { cwd: dir, env: { ...cleanEnv(env), NO_COLOR: '1' } });
  let stdout = '';
  let stderr = '';
  const waiting = new Set<{ text: string; resolve: () => void }>();
  child.stdout.on('data', (b) => (stdout += b));
  child.stderr.on('data', (b) => {
    stderr += b;
    for (const w of waiting) if (stderr.includes(w.text)) w.resolve();
  });
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return {
    child,
    stderr: () => stderr,
    done,
    said(text) {
      if (stderr.includes(text)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const entry = { text, resolve: () => (waiting.delete(entry), resolve()) };
        waiting.add(entry);
        void done.then((r) => waiting.delete(entry) && reject(new Error(`the run ended (${r.code}) before saying "${text}":\n${r.stderr}`)));
      });
    },
  };
}

/** Polls `check` until it holds, failing after `ms`: the gate for what only a store or a file can show. */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms / 1000}s: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** What the checkpoint at `path` says the feed applied, once it has a feed part; -1 before. */
export function feedApplied(path: string): number {
  if (!existsSync(path)) return -1;
  try {
    const saved = JSON.parse(readFileSync(path, 'utf8')) as { feed?: { applied?: number; position?: unknown } };
    return saved.feed?.position ? (saved.feed.applied ?? 0) : -1;
  } catch {
    // Caught between the write and the rename of a save: read again.
    return -1;
  }
}
