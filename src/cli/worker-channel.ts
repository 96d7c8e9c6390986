/**
 * The child's side of `--workers`: a shard run by the parent reports to it over the IPC channel
 * Node opens between them (progress as it goes, the report at the end) instead of drawing its own
 * display, and stops, saving its checkpoint, when the parent goes away (the parent was killed).
 */
import type { Progress, RunReport } from '../types.js';
import type { ProgressView } from './progress.js';

/** Set by the parent in each child's environment (`INDEX/COUNT`): the child is one of its workers. */
export const workerVariable = 'GOFANNON_ETL_WORKER';

/** What a worker sends its parent. */
export type WorkerMessage = { type: 'progress'; progress: Progress } | { type: 'report'; report: RunReport };

export interface WorkerChannel extends ProgressView {
  /** Sends the run's report (undefined when there is none) and lets the process end. */
  finish(report: RunReport | undefined): Promise<void>;
}

/** Whether this process is one of a parent's workers, with the channel to it open. */
export function isWorker(): boolean {
  return Boolean(process.env[workerVariable]) && typeof process.send === 'function';
}

const watching = new Set<() => void>();

/** Calls `stop` once if the parent goes away (not when the worker itself disconnects at its end). */
export function onParentGone(stop: () => void): void {
  if (!isWorker()) return;
  watching.add(stop);
  process.once('disconnect', stop);
  // The parent reads this process's stdout and stderr: once it is gone, a line written there fails
  // (EPIPE), and that must not end the run before its checkpoint is saved. Nobody is left to read it.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
}

const send = (message: WorkerMessage) =>
  new Promise<void>((resolve) => {
    if (!process.connected) return resolve();
    // A parent that went away meanwhile is not this run's failure: its report is simply not heard.
    process.send!(message, undefined, {}, () => resolve());
  });

/** The progress view of a worker: its progress goes to the parent, its lines to stderr (the parent shows them). */
export function workerChannel(): WorkerChannel | undefined {
  if (!isWorker()) return undefined;
  return {
    update: (progress) => void send({ type: 'progress', progress }),
    log: (line) => void process.stderr.write(`${line}\n`),
    stop: () => {},
    async finish(report) {
      if (report) await send({ type: 'report', report });
      // The open channel would keep the process alive; closing it is no parent going away.
      for (const stop of watching) process.off('disconnect', stop);
      if (process.connected) process.disconnect();
    },
  };
}
