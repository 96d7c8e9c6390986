/**
 * The command line's options, as tables: yargs reads them, and the commands the tool prints are
 * rebuilt from them (cli/commands.ts), so an option added here is repeated by every printed command
 * unless it is named there as one that only concerns the run it was given to.
 */
import type { Options } from 'yargs';
import { inputFormats } from '../formats/input-format.js';
import { sinkSchemes, sourceSchemes } from '../registry.js';

export type OptionTable = Record<string, Options>;

/** What `migrate` and `verify` both take. */
export const commonOptions = {
  from: { type: 'string', demandOption: true, describe: `source: ${sourceSchemes.join(', ')} (file:PATH, file:- or - for stdin)`, group: 'Stores:' },
  to: { type: 'string', demandOption: true, describe: `target: ${sinkSchemes.join(', ')} (file:PATH, file:- or - for stdout)`, group: 'Stores:' },
  collections: { type: 'string', describe: "comma-separated collections, or '*' for all (default: Gofannon's where the store may hold other data, else all)", group: 'Selection:' },
  format: { choices: inputFormats, describe: 'file source: its format, when neither its name nor its content tells (or to force one)', group: 'Files:' },
  'collection-name': { type: 'string', describe: "file source of one collection (couchbackup, array, DynamoDB export): its name (default: the file's or table's)", group: 'Files:' },
  transform: { type: 'string', array: true, describe: 'transform to apply, in order: float-to-decimal, numbers-from-strings=COLLECTION.FIELD,… (numbers export.py wrote as strings), or a module path (.js/.mjs/.ts); repeatable', group: 'Transforms:' },
  'keep-couch-meta': { type: 'boolean', default: false, describe: 'keep _rev, _revisions and _attachments (stripped by default)', group: 'Transforms:' },
  'table-prefix': { type: 'string', describe: 'DynamoDB: prefix of table names', group: 'Store options:' },
  segments: { type: 'number', describe: 'DynamoDB source: parallel scan segments', group: 'Store options:' },
  'include-design': { type: 'boolean', default: false, describe: 'CouchDB source: include _design/ documents', group: 'Store options:' },
  concurrency: { type: 'number', describe: 'batches in flight (default per target)', group: 'Tuning:' },
  'batch-size': { type: 'number', describe: 'documents per write (default per target)', group: 'Tuning:' },
  retries: { type: 'number', default: 8, describe: 'retries of transient errors per batch', group: 'Tuning:' },
  quiet: { alias: 'q', type: 'boolean', default: false, describe: 'print only errors', group: 'Output:' },
  verbose: { alias: 'v', type: 'boolean', default: false, describe: 'stack traces with errors', group: 'Output:' },
} as const satisfies OptionTable;

/** What only `migrate` takes. */
export const migrateOptions = {
  'dry-run': { type: 'boolean', default: false, describe: 'read, transform and check everything, the target too; write nothing', group: 'Run:' },
  'dead-letter': { type: 'string', describe: 'NDJSON file for documents that cannot be written, with reasons', group: 'Run:' },
  report: { type: 'string', describe: 'write the run report as JSON to this file (after --resume: the whole migration)', group: 'Run:' },
  checkpoint: { type: 'string', describe: 'save progress to this file (never replaces another run\'s without --force)', group: 'Run:' },
  resume: { type: 'boolean', default: false, describe: 'continue from --checkpoint after a crash or Ctrl-C', group: 'Run:' },
  force: { type: 'boolean', default: false, describe: 'replace the --checkpoint file even when it holds another run\'s progress', group: 'Run:' },
  'on-conflict': { choices: ['overwrite', 'skip', 'fail'], default: 'overwrite', describe: 'when the target already has the _id', group: 'Run:' },
  verify: { type: 'boolean', default: false, describe: 'after writing, compare source and target document by document (with --follow: after --until-caught-up)', group: 'Run:' },
  follow: { type: 'boolean', default: false, describe: 'after the copy, apply every later create, update and delete of the source until Ctrl-C/SIGTERM (exit 0)', group: 'Follow:' },
  'until-caught-up': { type: 'boolean', default: false, describe: 'with --follow: end by itself once every change waiting at the source is applied', group: 'Follow:' },
  'enable-stream': { type: 'boolean', default: false, describe: 'with --follow from DynamoDB: turn on the table\'s stream when it has none', group: 'Follow:' },
  shard: {
    type: 'string',
    describe: 'read only this share of the source: INDEX/COUNT (INDEX 0..COUNT-1), or auto/COUNT with the index from JOB_COMPLETION_INDEX or AWS_BATCH_JOB_ARRAY_INDEX; --report, --dead-letter, --checkpoint and a file target get .shard-INDEX-of-COUNT in their names',
    group: 'Scale-out:',
  },
  workers: { type: 'number', default: 1, describe: 'run N shards of the source as local processes, with one display, one report, one exit code (to a file: one export)', group: 'Scale-out:' },
} as const satisfies OptionTable;

/** What `report merge` takes. */
export const reportMergeOptions = {
  out: { type: 'string', describe: 'write the merged report to this file (default: stdout, as JSON)', group: 'Output:' },
  quiet: commonOptions.quiet,
  verbose: commonOptions.verbose,
} as const satisfies OptionTable;

/** Options whose value is a store: `-` after them means stdin or stdout (see stdioValues). */
const storeOptions = ['--from', '--to'];

/**
 * yargs reads a lone `-` as a positional argument, not as the value of the option before it; the
 * stores take `-` for stdin and stdout (as `file:-`), so `--from -` is handed over as `--from=-`.
 */
export function stdioValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (storeOptions.includes(argv[i]!) && argv[i + 1] === '-') out.push(`${argv[i++]}=-`);
    else out.push(argv[i]!);
  }
  return out;
}
