/**
 * `--workers N`: one command runs N shards of the source (`--shard k/N`) as local processes of this
 * same CLI, and is seen as one run: one progress display (the children send theirs over IPC), their
 * lines shown once, one merged report, one exit code (the worst), one resume command. Ctrl-C and
 * SIGTERM reach the parent only (the children have their own process group) and are forwarded once,
 * so every child finishes its batches and saves its checkpoint. To a file target each child writes a
 * part file and the parent joins them into the one export a single process would have written.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { access, constants, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { type CheckpointData, checkOutputFiles, countProblem, loadCheckpoint, mergeReports, mergeStats, shardFileName, totalOf } from '../pipeline.js';
import { isStdio, parseUri } from '../registry.js';
import { joinParts, removeParts } from '../stores/file/parts.js';
import { type FileFormat, formatFromName } from '../formats/file-name.js';
import type { CollectionStats, Progress, RunReport } from '../types.js';
import { redact } from '../util/redact.js';
import { writePrivateAtomic } from '../util/private-file.js';
import { isStdioName } from '../util/stdio-name.js';
import { givenOptions } from './commands.js';
import { exitCodes, worstExitCode } from './exit-codes.js';
import { commonOptions, migrateOptions } from './options.js';
import { chooseMode, progressView, type ProgressView } from './progress.js';
import { type WorkerMessage, workerVariable } from './worker-channel.js';

/** What the parent needs of the single-run CLI: its message stream, its ending, its stop signal. */
export interface WorkerRun {
  say(line: string): void;
  /** The summary, next commands, exit code and --verify of a run, from its (merged) report. */
  conclude(report: RunReport, signal: AbortSignal): Promise<void>;
  stopSignal(announce: (line: string) => void): AbortSignal;
}

/** The parsed arguments of a migrate command, as the workers take them. */
type Args = Record<string, unknown> & { from: string; to: string; workers: number; quiet: boolean; checkpoint?: string; resume: boolean; report?: string; 'dry-run': boolean; format?: string };

/** Options a child is not given as the parent was: the parent does these for the whole run. */
const parentOnly = ['workers', 'report', 'verify', 'quiet', 'to'];

/** What the CLI says when it is stopped: the parent says it, its children's saying it is not repeated. */
const stopping = 'stopping: finishing the batches in flight (Ctrl-C again to quit at once)';

/** One line, exit 2: a --workers run that cannot be. */
function refuse(line: string): number {
  process.stderr.write(`gofannon-etl: ${line}\n`);
  return exitCodes.usage;
}

/** Why this command cannot run as workers, if it cannot. */
function refusal(args: Args): string | undefined {
  const notACount = countProblem('--workers', args.workers);
  if (notACount) return notACount;
  if (isStdio(args.from)) return '--workers splits its source between processes, and stdin can be read only once: give a file (file:PATH) instead';
  if (args.follow) return '--workers and --follow do not go together: a change feed is followed by one process';
  if (args.shard !== undefined) return '--workers runs the shards itself (--shard k/N each): give one or the other';
  return undefined;
}

/** A file target: where the parts go and in what layout they are joined. */
interface FileTarget {
  path: string;
  format: FileFormat;
  /** What each child is given as its target: named like the target (so it says the same format), uncompressed. */
  base: string;
  /** The part shard k writes: the base with its shard in the name, as every file a shard writes. */
  part(k: number): string;
  /** Removes the temp directory the parts were in, if they had one of their own. */
  cleanup(): Promise<void>;
}

async function fileTarget(args: Args, count: number): Promise<FileTarget | undefined> {
  const uri = parseUri(args.to);
  if (uri.scheme !== 'file') return undefined;
  const path = uri.rest;
  const named = formatFromName(path);
  const format: FileFormat = named.format ?? (args.format === 'ndjson' ? 'ndjson' : 'json');
  // The name's own format suffix, kept (so --format means to each part what it meant to the target), gzip dropped.
  const suffix = /\.(json|ndjson|jsonl)(?=(\.gz)?$)/i.exec(path)?.[0] ?? '';
  const stem = basename(path).replace(/(\.(json|ndjson|jsonl))?(\.gz)?$/i, '');
  // stdout and devices have no directory of their own to hold parts.
  const inPlace = !isStdioName(path) && !/^\/(dev|proc)\//.test(path);
  const directory = inPlace ? dirname(resolve(path)) : await mkdtemp(join(tmpdir(), 'gofannon-etl-parts-'));
  if (inPlace) await access(directory, constants.W_OK);
  const base = join(directory, `.${stem}.parts-${process.pid}${suffix}`);
  return { path, format, base, part: (index) => shardFileName(base, { index, count }), cleanup: () => (inPlace ? Promise.resolve() : rm(directory, { recursive: true, force: true })) };
}

/** The checkpoint shard `index` of `count` keeps, under the name the user gave for the whole run. */
const shardCheckpoint = (checkpoint: string, index: number, count: number) => shardFileName(checkpoint, { index, count });

/** A checkpoint's identity without its shard: what every shard of one run shares. */
const runOf = (data: CheckpointData) => JSON.stringify({ ...data, position: null, stats: null, deadLetters: null, complete: null, updatedAt: null, settings: { ...data.settings, '--shard': null } });

/**
 * On --resume: the shards whose own checkpoint says they finished (a resumed child would refuse
 * them), by index, when the run's other shards' checkpoints show them to be of the same run. Throws
 * the one line to refuse with when there is nothing of this run to resume.
 */
async function finishedShards(checkpoint: string, count: number): Promise<Map<number, CheckpointData>> {
  const saved = await Promise.all(Array.from({ length: count }, (_, k) => loadCheckpoint(shardCheckpoint(checkpoint, k, count))));
  if (saved.every((data) => data === undefined)) {
    throw new Error(`--resume: no checkpoint of --workers ${count} (${shardCheckpoint(checkpoint, 0, count)}, …): resume with the --workers the run was started with`);
  }
  const unfinished = saved.filter((data) => data && !data.complete);
  if (unfinished.length === 0 && saved.every((data) => data?.complete)) {
    throw new Error(`checkpoint ${checkpoint} says this migration already completed (every shard's); delete ${shardCheckpoint(checkpoint, 0, count)}… to run again`);
  }
  const finished = new Map<number, CheckpointData>();
  saved.forEach((data, k) => {
    if (data?.complete && unfinished.every((other) => runOf(other!) === runOf(data))) finished.set(k, data);
  });
  return finished;
}

/** The report of a shard that finished in an earlier run, from its checkpoint: all of its counts are the earlier runs'. */
function finishedReport(data: CheckpointData, like: RunReport, path: string): RunReport {
  const total = totalOf(data.stats);
  return { ...like, ok: total.failed === 0, interrupted: false, collections: data.stats, total, durationMs: 0, deadLetters: { count: data.deadLetters }, checkpoint: path, earlier: total, error: undefined };
}

/** The progress of every child, shown as one run. */
class CombinedProgress {
  private readonly latest = new Map<number, Progress>();
  private current?: string;
  private readonly started = Date.now();

  constructor(private readonly view: ProgressView) {}

  update(k: number, progress: Progress): void {
    this.latest.set(k, progress);
    if (progress.collection) this.current = progress.collection;
    this.view.update(this.combined(false));
  }

  combined(done: boolean): Progress {
    let collections: Record<string, CollectionStats> = {};
    const expected: Record<string, number> = {};
    let source: Progress['source'];
    for (const p of this.latest.values()) {
      collections = mergeStats(collections, p.collections);
      // A store's count is the whole collection's, whichever shard asks.
      for (const [name, n] of Object.entries(p.expected)) expected[name] = Math.max(expected[name] ?? 0, n);
      // Each shard reads its own share of the input: the shares add up to the whole.
      if (p.source) source = { done: (source?.done ?? 0) + p.source.done, total: (source?.total ?? 0) + p.source.total };
    }
    return { collection: this.current, collections, expected, source, elapsedMs: Date.now() - this.started, done };
  }
}

const recentLines = 10_000;

/** A line as the shards all say it: `--shard 2/3: … hashes to shard 2` is what shard 0 says too. */
const sameFromEveryShard = (line: string) => line.replace(/\bshard \d+\/\d+/g, 'shard */*').replace(/\bshard \d+\b/g, 'shard *');

/**
 * A shard's line as the run the user started says it, once for all shards: `--shard 1/2: … hashes
 * to shard 1` becomes `--workers 2: … hashes to it` (the user typed --workers, not --shard).
 */
const asTheWorkersSay = (line: string) => line.replace(/^--shard \d+\/(\d+): /, '--workers $1: ').replace(/\bhashes to shard \d+\b/g, 'hashes to it');

/** A child's lines (stdout and stderr), shown through the view, each once: N shards say the same things. */
function relay(child: ChildProcess, seen: Set<string>, view: ProgressView): Promise<void> {
  const streams = [child.stdout!, child.stderr!].map(
    (stream) =>
      new Promise<void>((resolveLines) => {
        const lines = createInterface({ input: stream, crlfDelay: Infinity });
        lines.on('line', (line) => {
          const key = sameFromEveryShard(line);
          if (seen.has(key)) return;
          // The shards say the same things at about the same time: the recent lines are enough to
          // compare with, and a run that prints a line per failed document keeps flat memory.
          if (seen.size >= recentLines) {
            seen.clear();
            seen.add(stopping);
          }
          seen.add(key);
          view.log(asTheWorkersSay(line));
        });
        lines.on('close', resolveLines);
      }),
  );
  return Promise.all(streams).then(() => undefined);
}

interface Outcome {
  code: number;
  report?: RunReport;
  /** A shard an earlier run finished: its checkpoint. */
  finished?: CheckpointData;
  /** How the process ended: `code 3`, `signal SIGKILL`. */
  ended?: string;
}

/** Runs one child to its end: its exit code and the report it sent, if any. */
function runChild(k: number, count: number, argv: string[], progress: CombinedProgress, seen: Set<string>, view: ProgressView, started: (child: ChildProcess) => void): Promise<Outcome> {
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...argv], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    // Its own process group: the terminal's Ctrl-C reaches the parent only, which forwards it once.
    detached: true,
    env: { ...process.env, [workerVariable]: `${k}/${count}` },
  });
  started(child);
  let report: RunReport | undefined;
  child.on('message', (message: WorkerMessage) => {
    if (message.type === 'progress') progress.update(k, message.progress);
    else if (message.type === 'report') report = message.report;
  });
  const lines = relay(child, seen, view);
  return new Promise((resolveOutcome) => {
    child.on('error', (error) => {
      view.log(`gofannon-etl: shard ${k}/${count} could not start: ${error.message}`);
      resolveOutcome({ code: exitCodes.fatal });
    });
    child.on('close', async (code, signal) => {
      await lines;
      const ended = code === null ? `signal ${signal}` : `code ${code}`;
      resolveOutcome({ code: code ?? (signal === 'SIGINT' || signal === 'SIGTERM' ? exitCodes.interrupted : exitCodes.fatal), report, ended });
    });
  });
}

/** A shard's report as a part of the whole run: its target the one the user named (not its part file), its shard named. */
function asPartOfRun(report: RunReport, index: number, count: number, targetLabel: string, target: FileTarget | undefined): RunReport {
  const part = target?.part(index);
  const plan = report.plan?.map((p) => ({ ...p, wouldCreate: part && p.wouldCreate ? p.wouldCreate.replace(part, target!.path) : p.wouldCreate }));
  return { ...report, target: targetLabel, shard: { index, count }, ...(plan ? { plan } : {}) };
}

/** A report of nothing done yet, from the command: for shards whose processes all ended without one. */
function commandReport(args: Args): RunReport {
  return { ok: false, interrupted: false, dryRun: args['dry-run'], source: redact(args.from), target: redact(args.to), transforms: [], collections: {}, total: totalOf({}), durationMs: 0, deadLetters: { count: 0 }, resumable: false };
}

/** A report for a shard whose process ended without one (it crashed, or was killed). */
function lostShard(k: number, count: number, like: RunReport, ended: string): RunReport {
  return { ...like, ok: false, interrupted: false, collections: {}, total: totalOf({}), durationMs: 0, deadLetters: { count: 0 }, checkpoint: undefined, shard: { index: k, count }, error: `its process ended (${ended}) without a report`, earlier: undefined };
}

/** What a --workers run starts from, once its options are checked. */
interface Plan {
  count: number;
  target?: FileTarget;
  /** On --resume, the shards an earlier run finished. */
  finished: Map<number, CheckpointData>;
}

/** The run's plan, or the one line it is refused with. */
async function planOf(args: Args): Promise<Plan | string> {
  const why = refusal(args);
  if (why) return why;
  try {
    await checkOutputFiles({ '--report': args.report });
  } catch (error) {
    return (error as Error).message;
  }
  const count = args.workers;
  let target: FileTarget | undefined;
  try {
    target = await fileTarget(args, count);
  } catch {
    const path = parseUri(args.to).rest;
    return `${path}: the directory ${dirname(resolve(path))} does not exist or is not writable`;
  }
  try {
    return { count, target, finished: args.resume && args.checkpoint ? await finishedShards(args.checkpoint, count) : new Map() };
  } catch (error) {
    return (error as Error).message;
  }
}

/** Runs every shard not finished yet as a child, with one display; stops them all on a signal or when one fails. */
async function runShards(args: Args, plan: Plan, signal: AbortSignal, view: ProgressView, children: ChildProcess[]): Promise<Outcome[]> {
  const { count, target, finished } = plan;
  // The children say the same when they stop, and what is wrong with a run: once is enough.
  const seen = new Set<string>([stopping]);
  const stopAll = () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  };
  signal.addEventListener('abort', stopAll, { once: true });
  const shared = givenOptions(args, { ...commonOptions, ...migrateOptions }, parentOnly).flatMap(([flag, value]) => (value === undefined ? [flag] : [flag, value]));
  const progress = new CombinedProgress(view);
  // The display moves on its own too (elapsed time, lines every few seconds) while every shard is busy writing.
  const ticking = setInterval(() => view.update(progress.combined(false)), 1000);
  ticking.unref();
  const outcomes = await Promise.all(
    Array.from({ length: count }, async (_, k): Promise<Outcome> => {
      const done = finished.get(k);
      if (done) return { code: totalOf(done.stats).failed > 0 ? exitCodes.documentsFailed : exitCodes.ok, finished: done };
      const to = target ? `file:${target.base}` : args.to;
      const outcome = await runChild(k, count, [...shared, '--to', to, '--shard', `${k}/${count}`, '--quiet'], progress, seen, view, (child) => children.push(child));
      // A shard that failed or was refused: the others stop too, saving their checkpoints.
      if (outcome.code === exitCodes.usage || outcome.code === exitCodes.fatal) stopAll();
      return outcome;
    }),
  );
  clearInterval(ticking);
  view.update(progress.combined(true));
  view.stop();
  return outcomes;
}

/** The run's exit code from its shards', and its report: theirs merged, as one run of the target the user named. */
function wholeRun(args: Args, plan: Plan, outcomes: Outcome[], signal: AbortSignal): { code: number; merged: RunReport } {
  const { count, target } = plan;
  // Shards stopped because another failed were not interrupted by the user: the failure is the run's code.
  const codes = outcomes.map((o) => o.code);
  const consequences = signal.aborted ? codes : codes.filter((c) => c !== exitCodes.interrupted);
  const code = worstExitCode(consequences.length > 0 ? consequences : codes);
  // What the shards' reports share; where none sent one (all died), what the command itself says.
  const like = outcomes.find((o) => o.report)?.report ?? commandReport(args);
  const targetLabel = redact(args.to);
  const reports = outcomes.map((o, k) => {
    const report = o.finished ? finishedReport(o.finished, like, shardCheckpoint(args.checkpoint!, k, count)) : (o.report ?? lostShard(k, count, like, o.ended ?? `code ${o.code}`));
    return asPartOfRun(report, k, count, targetLabel, target);
  });
  const merged = { ...mergeReports(reports), ...(reports.some((r) => r.checkpoint) && args.checkpoint ? { checkpoint: args.checkpoint } : {}) };
  if (merged.error !== undefined && !signal.aborted) merged.interrupted = false;
  // Each shard of a split source sees only its share, so only the whole can tell what was not there.
  const short = code <= exitCodes.documentsFailed && !merged.interrupted ? notThere(args, merged) : undefined;
  if (!short) return { code, merged };
  process.stderr.write(`gofannon-etl: ${short}\n`);
  return { code: exitCodes.usage, merged: { ...merged, ok: false, error: short } };
}

/** A file target: the parts joined into it when the run completed, else removed (no target left); answers the report. */
async function finishFileTarget(target: FileTarget, plan: Plan, merged: RunReport, code: number, run: WorkerRun, children: ChildProcess[]): Promise<RunReport> {
  const parts = Array.from({ length: plan.count }, (_, k) => target.part(k));
  try {
    const complete = !merged.interrupted && merged.error === undefined && code <= exitCodes.documentsFailed;
    if (!complete) {
      await removeParts(parts, children.flatMap((child) => (child.pid === undefined ? [] : [child.pid])));
      return merged;
    }
    run.say(`Joining the ${plan.count} shards' parts into ${isStdioName(target.path) ? 'stdout' : target.path}...`);
    try {
      await joinParts(target.path, target.format, parts);
      return merged;
    } catch (error) {
      const failed = { ...merged, ok: false, error: redact((error as Error).message) };
      process.stderr.write(`gofannon-etl: ${failed.error}\n`);
      return failed;
    }
  } finally {
    await target.cleanup();
  }
}

/** Runs the migration as `args.workers` shards in child processes; sets the exit code. */
export async function runWorkers(args: Args, run: WorkerRun): Promise<void> {
  const plan = await planOf(args);
  if (typeof plan === 'string') {
    process.exitCode = refuse(plan);
    return;
  }
  const view = progressView(chooseMode({ quiet: args.quiet, stream: process.stderr, env: process.env }), process.stderr);
  const signal = run.stopSignal((line) => view.log(line));
  const children: ChildProcess[] = [];
  const outcomes = await runShards(args, plan, signal, view, children);
  const whole = wholeRun(args, plan, outcomes, signal);
  let merged = whole.merged;
  if (plan.target && !args['dry-run']) merged = await finishFileTarget(plan.target, plan, merged, whole.code, run, children);
  else await plan.target?.cleanup();
  // Written however the run ended, as one process writes it.
  if (args.report) await writePrivateAtomic(args.report, `${JSON.stringify(merged, null, 2)}\n`);
  // A refusal: the shards said why, above; there is nothing to sum up.
  if (whole.code === exitCodes.usage) {
    process.exitCode = whole.code;
    return;
  }
  await run.conclude(merged, signal);
  process.exitCode = worstExitCode([whole.code, Number(process.exitCode ?? 0)]);
}

/**
 * What the shards together did not find, though asked: a named collection none of them read, or
 * nothing at all (never a quiet empty success). A resumed run rightly reads only what was left.
 */
function notThere(args: Args, merged: RunReport): string | undefined {
  if (args.resume) return undefined;
  const held = Object.keys(merged.collections);
  const named = String(args.collections ?? '').split(',').map((c) => c.trim()).filter((c) => c && c !== '*');
  const missing = named.filter((c) => !held.includes(c));
  if (missing.length > 0) return `${merged.source} holds no collection ${missing.join(', ')}: none of the ${args.workers} shards found one`;
  if (held.length === 0) return `nothing to read: found no collections at ${merged.source}`;
  return undefined;
}
