/**
 * The command line. The only place that turns errors into exit codes and prints them:
 * 0 all written, 1 some documents failed, 2 usage or configuration, 3 fatal, 130 interrupted.
 */
import { createRequire } from 'node:module';
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { isEtlError, messageOf, usageError } from './errors.js';
import { migrate, shardFileName, type MigrateOptions } from './pipeline.js';
import { formatFromName } from './formats/file-name.js';
import { redact } from './util/redact.js';
import { isStdio, keepsData, parseUri } from './registry.js';
import { formatCommand, notRepeated, printedCommand, shellQuote } from './cli/commands.js';
import { commonOptions, migrateOptions, reportMergeOptions, stdioValues } from './cli/options.js';
import { runReportMerge } from './cli/report-merge.js';
import { chooseMode, progressView } from './cli/progress.js';
import { DifferenceLog } from './cli/differences.js';
import { exitCodeOf, exitCodes } from './cli/exit-codes.js';
import { formatComparison, formatSummary } from './cli/summary.js';
import type { OnConflict, RunReport, Shard } from './types.js';
import { onParentGone, workerChannel } from './cli/worker-channel.js';
import { runWorkers } from './cli/workers.js';
import { verify, type VerifyReport } from './verify/verify.js';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

const migrateExamples: [string, string][] = [
  ['Import an export file into DynamoDB (DYNAMODB_REGION, DYNAMODB_ENDPOINT_URL, AWS credentials):', '--from file:backup.json --to dynamodb'],
  ['Back up CouchDB (COUCHDB_URL, COUCHDB_USER, COUCHDB_PASSWORD), gzipped:', '--from couchdb --to file:backup.json.gz'],
  ['Copy between explicit endpoints (DynamoDB Local here):', '--from couchdb://admin:pw@localhost:5984 --to dynamodb://localhost:8000'],
  ['Firestore (GOOGLE_CLOUD_PROJECT, GOOGLE_APPLICATION_CREDENTIALS) to CouchDB, two collections:', '--from firestore://my-project --to couchdb --collections agents,users'],
  ['Validate a backup and show the plan, writing nothing:', '--from file:backup.json --to null --dry-run'],
  ['Stream an export to stdout:', '--from couchdb --to file:- | ssh backup-host "cat > backup.json"'],
  ['Convert formats through a custom transform:', '--from file:backup.ndjson --to file:backup.json --transform ./redact.js'],
  ['Restore a backup export.py made from DynamoDB (its numbers are strings):', '--from file:backup.json --to couchdb --transform numbers-from-strings=users.usageInfo.spendRemaining,agent_data_store.accessCount'],
  ['Save progress; after a crash or Ctrl-C run the same with --resume:', '--from file:big.json --to dynamodb --checkpoint run.ckpt'],
  ['Shard 2 of 4 of an import (run 0/4 to 3/4 side by side; in a job array, --shard auto/4); files get .shard-2-of-4 in their names:', '--from file:big.ndjson --to dynamodb --shard 2/4 --checkpoint run.ckpt'],
  ['Copy, then keep the target in step with the live source until Ctrl-C (then --resume to go on):', '--from couchdb --to dynamodb --follow --checkpoint run.ckpt'],
  ['Cutover, once the app stopped writing: apply what is left, then compare:', '--from couchdb --to dynamodb --follow --checkpoint run.ckpt --resume --until-caught-up --verify'],
  ['Time how fast a backup reads, checking every document on the way:', '--from file:backup.json.gz --to null'],
  ["Another tool's backup, recognised by its content (couchbackup here; the collection is named after the file):", '--from file:agents.txt --to dynamodb'],
  ['A DynamoDB export to S3, downloaded (the collection is named after the table):', '--from file:exports/AWSDynamoDB/01700000000000-abcd1234 --to couchdb'],
];

const reportMergeExamples: [string, string][] = [
  ["The reports of a run's four shards, as one (and the exit code of the whole run):", 'report merge report.shard-*-of-4.json --out report.json'],
];

const verifyExamples: [string, string][] = [
  ['Is every document of the backup in DynamoDB, unchanged?', 'verify --from file:backup.json --to dynamodb'],
  ['Check a backup of one collection:', 'verify --from couchdb --to file:backup.json.gz --collections agents'],
];

/** Examples as a block under the options: a description line, then the whole command unwrapped. */
function examples(list: [string, string][]): string {
  return ['Examples:', ...list.map(([what, args]) => `  ${what}\n    gofannon-etl ${args}`)].join('\n');
}

function withCommonOptions(y: Argv) {
  return y.options(commonOptions);
}

type CommonArgs = Awaited<ReturnType<typeof withCommonOptions>['argv']>;
type MigrateArgs = CommonArgs & {
  workers: number;
  'dry-run': boolean;
  'dead-letter'?: string;
  report?: string;
  checkpoint?: string;
  resume: boolean;
  force: boolean;
  'on-conflict': string;
  verify: boolean;
  follow: boolean;
  'until-caught-up': boolean;
  'enable-stream': boolean;
  shard?: string;
};

function list(value: string | undefined): string[] | undefined {
  const items = value?.split(',').map((c) => c.trim()).filter(Boolean);
  return items?.length ? items : undefined;
}

/** Messages go to stdout unless stdout carries the data (`--to file:-`). */
function messageStream(to: string): NodeJS.WritableStream {
  return isStdio(to) ? process.stderr : process.stdout;
}

/** Ctrl-C / SIGTERM stop the run cleanly once; a second Ctrl-C exits at once. */
function stopSignal(announce: (line: string) => void = (line) => void process.stderr.write(`${line}\n`)): AbortSignal {
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(exitCodes.interrupted);
    announce('stopping: finishing the batches in flight (Ctrl-C again to quit at once)');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  onParentGone(onSignal);
  return controller.signal;
}

const allMigrateOptions = { ...commonOptions, ...migrateOptions };

/** The same run with --resume, for a run that stopped and saved a checkpoint. */
function resumeCommand(args: MigrateArgs): string {
  const command = printedCommand([], args, allMigrateOptions, notRepeated.resume);
  return formatCommand({ ...command, line: `${command.line} --resume` });
}

/** The same run from the start, for a stopped run that cannot be resumed. */
function startOverCommand(args: MigrateArgs): string {
  return formatCommand(printedCommand([], args, allMigrateOptions, notRepeated.startOver));
}

/** A verify command for the same source, target, selection and transforms. */
function verifyCommand(args: MigrateArgs, shard?: Shard): string | undefined {
  // stdin was read up and stdout keeps nothing: neither can be read again.
  if (!keepsData(args.to) || isStdio(args.from)) return undefined;
  const command = printedCommand(['verify'], args, allMigrateOptions, notRepeated.verify);
  const target = parseUri(args.to);
  if (shard && target.scheme === 'file') {
    // A shard's file holds its share only: the whole is checked once the parts are joined under the name given.
    const join = joinCommand(target.rest, shard);
    if (!join) return undefined;
    command.notes.push(`once all ${shard.count} shards have finished, on their files joined into one: ${join}`);
  } else if (shard) command.notes.push(`once all ${shard.count} shards have finished: it compares the whole source with the whole target`);
  return formatCommand(command);
}

/**
 * The shell line that joins the shards' NDJSON files into the file named once: each part's
 * metadata line left out (it lists that part's collections only), and the lines grouped by
 * collection (the 4th field between quotes of `{"collection":"NAME"…`), as a file holds them:
 * the shards of a hash or line split each hold every collection, and a glob puts shard 10 before
 * shard 2. Undefined where there is no such line (JSON exports do not join, nor names the shell
 * would need quoted).
 */
function joinCommand(path: string, shard: Shard): string | undefined {
  const { format, gzip } = formatFromName(path);
  if (format !== 'ndjson' || shellQuote(path) !== path) return undefined;
  const parts = shardFileName(path, shard).replace(`.shard-${shard.index}-of-`, '.shard-*-of-');
  const grouped = `grep -v '^{"metadata"' | LC_ALL=C sort -s -t'"' -k4,4`;
  return gzip ? `zcat ${parts} | ${grouped} | gzip > ${path}` : `cat ${parts} | ${grouped} > ${path}`;
}

/** The arguments as printed commands repeat them: `--shard auto/4` as the index it resolved to, so a pasted resume continues the same shard. */
function resolvedArgs(args: MigrateArgs, report: RunReport | undefined): MigrateArgs {
  return report?.shard ? { ...args, shard: `${report.shard.index}/${report.shard.count}` } : args;
}

function reportError(error: unknown, verbose: boolean, resume?: string): number {
  const code = isEtlError(error) && error.kind === 'usage' ? exitCodes.usage : exitCodes.fatal;
  let line = `gofannon-etl: ${redact(messageOf(error))}`;
  // A refusal (exit 2) comes before anything is written: only a fatal stop has counts worth saying.
  const partial = isEtlError(error) && error.kind === 'fatal' ? error.report : undefined;
  if (partial?.dryRun) line += ` (dry run: nothing was written; ${partial.total.read} documents were checked before it)`;
  else if (partial) line += ` (${partial.total.written} documents were written before it${partial.earlier ? `, ${partial.earlier.written} of them by the earlier run(s)` : ''})`;
  process.stderr.write(`${line}\n`);
  // Only a run that saved a checkpoint can be resumed; one refused before its first document saved none.
  if (resume && partial?.checkpoint && !partial.dryRun) process.stderr.write(`To continue where it stopped: ${resume}\n`);
  if (verbose && error instanceof Error && error.stack) process.stderr.write(`${redact(error.stack)}\n`);
  return code;
}

/** The options `migrate` and `verify` share, from the flags they share. */
function sharedOptions(args: CommonArgs) {
  return {
    from: args.from,
    to: args.to,
    collections: list(args.collections),
    transforms: args.transform,
    noDefaultTransforms: args['keep-couch-meta'],
    batchSize: args['batch-size'],
    segments: args.segments,
    tablePrefix: args['table-prefix'],
    includeDesign: args['include-design'],
    format: args.format,
    collectionName: args['collection-name'],
    retries: args.retries,
    warn: (m: string) => process.stderr.write(`${redact(m)}\n`),
  };
}

function sayer(args: CommonArgs): (line: string) => void {
  const out = messageStream(args.to);
  return (line) => {
    if (!args.quiet) out.write(`${line}\n`);
  };
}

/**
 * Compares source and target with progress, printing the first differences as they are found and
 * counting the rest; `reportPath` gets every one.
 */
async function compare(args: CommonArgs, say: (line: string) => void, signal: AbortSignal, reportPath?: string): Promise<VerifyReport> {
  const mode = chooseMode({ quiet: args.quiet, stream: process.stderr, env: process.env });
  const view = progressView(mode, process.stderr);
  // Under live bars a line goes through them, so they are not torn; elsewhere where messages go.
  const differences = await DifferenceLog.open(mode === 'bars' ? (line) => view.log(line) : say, reportPath);
  let report: VerifyReport | undefined;
  try {
    report = await verify({
      ...sharedOptions(args),
      warn: (m) => view.log(redact(m)),
      signal,
      onDifference: (d) => differences.add(d),
      onProgress: (p) => view.update(p),
    });
  } finally {
    view.stop();
    await differences.close(report);
  }
  const rest = differences.rest();
  if (rest) say(rest);
  say(formatComparison(report));
  return report;
}

async function runVerify(args: CommonArgs & { report?: string }) {
  const signal = stopSignal();
  try {
    const report = await compare(args, sayer(args), signal, args.report);
    process.exitCode = report.identical ? exitCodes.ok : exitCodes.documentsFailed;
  } catch (error) {
    process.exitCode = signal.aborted ? interrupted('verify was interrupted: nothing is known about the target') : reportError(error, args.verbose);
  }
}

async function runMergeCommand(args: { reports: string[]; out?: string; quiet: boolean; verbose: boolean }) {
  try {
    process.exitCode = await runReportMerge(args.reports, args.out, (line) => !args.quiet && process.stdout.write(`${line}\n`));
  } catch (error) {
    process.exitCode = reportError(error, args.verbose);
  }
}

/**
 * The end of a run, from its report (one process's, or the merged report of --workers): the
 * summary, what to run next, the exit code, and --verify.
 */
async function conclude(args: MigrateArgs, report: RunReport, say: (line: string) => void, signal: AbortSignal): Promise<void> {
  // A merged report may carry a shard's error: that run stopped too, and may be resumed.
  const stopped = report.interrupted || report.error !== undefined;
  const resumable = Boolean(args.checkpoint) && report.resumable;
  const printed = resolvedArgs(args, report);
  say(formatSummary(report, {
    resume: stopped && resumable ? resumeCommand(printed) : undefined,
    // Following on is open-ended: without the cutover's --until-caught-up and --verify.
    followAgain: report.follow && resumable ? resumeCommand({ ...printed, 'until-caught-up': false, verify: false }) : undefined,
    verify: !stopped && !report.dryRun && !args.verify ? verifyCommand(args, report.shard) : undefined,
  }));
  if (stopped && isStdio(args.from)) say('stdin was read once, so this run cannot be resumed: run the whole pipeline again to start over.');
  else if (stopped && !report.resumable) say(`${report.target} is written whole; to start over: ${startOverCommand(printed)}`);
  else if (report.follow && !args.checkpoint) say(`No --checkpoint was given, so following again copies the snapshot again: ${startOverCommand(printed)}`);
  else if (stopped && !args.checkpoint) say(`No --checkpoint was given; to run it again (writes by _id are idempotent; add --checkpoint FILE to be able to resume): ${startOverCommand(printed)}`);
  process.exitCode = exitCodeOf(report);
  if (args.verify && process.exitCode === exitCodes.ok && !report.dryRun) {
    say('\nVerifying...');
    try {
      const comparison = await compare(args, say, signal);
      if (!comparison.identical) process.exitCode = exitCodes.documentsFailed;
    } catch (error) {
      if (!signal.aborted) throw error;
      process.exitCode = interrupted('verify was interrupted after a complete migration');
    }
  }
}

function interrupted(message: string): number {
  process.stderr.write(`gofannon-etl: ${message}\n`);
  return exitCodes.interrupted;
}

async function runMigrate(args: MigrateArgs) {
  const say = sayer(args);
  // --verify compares once the run has ended: a follow ends by itself only with --until-caught-up.
  if (args.verify && args.follow && !args['until-caught-up']) {
    process.exitCode = reportError(usageError('bad-option', '--verify with --follow needs --until-caught-up: a follow stopped while the source is written to differs from it; stop the writes, then follow with --until-caught-up --verify'), args.verbose);
    return;
  }
  if (args.shard !== undefined && args.verify) {
    process.exitCode = reportError(usageError('bad-shard', '--verify with --shard: verify checks the whole target, so run gofannon-etl verify (the command each shard prints) once all shards have finished'), args.verbose);
    return;
  }
  if (args.workers !== 1) return runWorkers(args, { say, conclude: (report, signal) => conclude(args, report, say, signal), stopSignal });
  // A worker of --workers reports to its parent instead of drawing.
  const channel = workerChannel();
  const view = channel ?? progressView(chooseMode({ quiet: args.quiet, stream: process.stderr, env: process.env }), process.stderr);
  const signal = stopSignal((line) => view.log(line));
  const options: MigrateOptions = {
    ...sharedOptions(args),
    warn: (m) => view.log(redact(m)),
    onProgress: (p) => view.update(p),
    dryRun: args['dry-run'],
    deadLetter: args['dead-letter'],
    report: args.report,
    checkpoint: args.checkpoint,
    resume: args.resume,
    force: args.force,
    onConflict: args['on-conflict'] as OnConflict,
    concurrency: args.concurrency,
    shard: args.shard,
    follow: args.follow,
    untilCaughtUp: args['until-caught-up'],
    enableStream: args['enable-stream'],
    signal,
  };
  try {
    const report = await migrate(options);
    view.stop();
    await channel?.finish(report);
    await conclude(args, report, say, signal);
  } catch (error) {
    view.stop();
    const partial = isEtlError(error) ? error.report : undefined;
    await channel?.finish(partial);
    process.exitCode = reportError(error, args.verbose, args.checkpoint && partial?.resumable ? resumeCommand(resolvedArgs(args, partial)) : undefined);
  }
}

export async function main(argv = hideBin(process.argv)): Promise<void> {
  const parser = yargs(stdioValues(argv))
    .scriptName('gofannon-etl')
    .usage('$0 [migrate] --from SOURCE --to TARGET [options]\n\nMoves Gofannon collections between stores and export files, streamed, with transforms.')
    .command(['migrate', '$0'], 'copy collections from a source to a target', (y) =>
      withCommonOptions(y).options(migrateOptions).epilogue(examples(migrateExamples)), (args) => runMigrate(args as never))
    .command('verify', 'compare a source (after the same transforms) with a target, document by document', (y) =>
      withCommonOptions(y)
        .option('report', { type: 'string', describe: 'write every difference and the counts as JSON to this file', group: 'Run:' })
        .epilogue(examples(verifyExamples)), (args) => runVerify(args as never))
    .command('report', 'work with run reports', (y) =>
      y.command('merge <reports..>', "add the reports of a run's shards (--shard, job arrays) into the report of the whole run", (m) =>
        m.positional('reports', { type: 'string', array: true, describe: 'report files, one per shard (e.g. part-*.json)' })
          .options(reportMergeOptions)
          .epilogue(examples(reportMergeExamples)), (args) => runMergeCommand(args as never))
        .demandCommand(1, 'report needs a subcommand: merge'))
    .strict()
    .version(version)
    .alias('h', 'help')
    .wrap(Math.min(120, process.stdout.columns || 100))
    .fail((message, error) => {
      if (error) throw error;
      process.stderr.write(`gofannon-etl: ${message}\nTry gofannon-etl --help\n`);
      process.exit(exitCodes.usage);
    });
  await parser.parseAsync();
}

await main();
