/**
 * The commands the tool prints for the user to paste: the verify of what was written, the resume of
 * a stopped run, the same run again from the start. Each is rebuilt from the options the run was actually given (cli/options.ts), so
 * an option that changes what is read, written or compared is repeated by default; each kind of
 * command leaves out only the few options named here, those that concern the run they were given to.
 */
import { parseUri } from '../registry.js';
import { redact, redactUrl } from '../util/redact.js';
import type { OptionTable } from './options.js';

/** Per printed command, the options it does not repeat, and why. */
export const notRepeated = {
  // verify reads both sides and writes nothing: how the run wrote (conflicts, tuning), where it
  // kept its progress, reports and dead letters, and whether it was dry concern the run alone;
  // its own --report would overwrite the run's; it runs as one process.
  // verify compares the whole source with the whole target, once every shard has written its share;
  // it compares once, following is the run's own.
  verify: ['dry-run', 'dead-letter', 'report', 'checkpoint', 'resume', 'force', 'on-conflict', 'verify', 'concurrency', 'batch-size', 'shard', 'follow', 'until-caught-up', 'enable-stream', 'workers'],
  // A resume is the same run again, continuing; --force would replace the checkpoint it continues.
  resume: ['resume', 'force', 'dry-run'],
  // Starting a run over that cannot be resumed (a target written whole): the same run from the
  // start; its own checkpoint is replaced without --force (there is nothing in it to resume).
  startOver: ['resume', 'force'],
} as const;

/** Where a store reads a password the printed command leaves out of its URI. */
const passwordVariables: Record<string, string> = { couchdb: 'COUCHDB_PASSWORD', couchdbs: 'COUCHDB_PASSWORD' };

/** A command to print: the line to paste, and what the user must supply first (a password left out). */
export interface PrintedCommand {
  line: string;
  notes: string[];
}

/** An argument as it can be pasted back into a shell. */
export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

const sameValue = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * `gofannon-etl WORDS --option value …` from the parsed arguments: every option of `table` given a
 * value other than its default, in table order, except those `leaveOut` names. A password in a URI
 * is left out of it (never printed) with a note naming the variable that supplies it.
 */
export function printedCommand(words: string[], args: Record<string, unknown>, table: OptionTable, leaveOut: readonly string[]): PrintedCommand {
  const out = ['gofannon-etl', ...words];
  const notes: string[] = [];
  for (const [flag, value] of givenOptions(args, table, leaveOut)) out.push(flag, ...(value === undefined ? [] : [withoutPassword(flag, value, notes)]));
  const line = out.map(shellQuote).join(' ');
  const shown = redact(line);
  if (shown !== line) notes.push('a value shown as *** holds a secret, which is never printed: put it back first');
  return { line: shown, notes };
}

/**
 * Every option of `table` given a value other than its default, in table order, except those
 * `leaveOut` names, as `[flag, value]` (no value for a boolean flag): what a command repeats. The
 * values are as given, secrets too: printedCommand removes them; --workers hands them to its children.
 */
export function givenOptions(args: Record<string, unknown>, table: OptionTable, leaveOut: readonly string[]): [string, string | undefined][] {
  const given: [string, string | undefined][] = [];
  for (const [name, option] of Object.entries(table)) {
    const value = args[name];
    if (leaveOut.includes(name) || value === undefined || sameValue(value, option.default)) continue;
    const flag = `--${name}`;
    if (typeof value === 'boolean') given.push([value ? flag : `--no-${name}`, undefined]);
    else for (const item of Array.isArray(value) ? value : [value]) given.push([flag, String(item)]);
  }
  return given;
}

/** The value with any URI password removed, and a note saying how to supply it instead. */
function withoutPassword(flag: string, value: string, notes: string[]): string {
  if (redactUrl(value) === value) return value;
  const stripped = value.replace(/(\/\/[^/\s:@]*):[^@\s/]*@/, '$1@');
  let scheme: string | undefined;
  try {
    scheme = parseUri(value).scheme;
  } catch {
    scheme = undefined;
  }
  const variable = scheme ? passwordVariables[scheme] : undefined;
  notes.push(variable
    ? `the password given in ${flag} is not printed: set ${variable} in the environment first`
    : `the password given in ${flag} is not printed: put it back into the URI (user:PASSWORD@host) first`);
  return stripped;
}

/** The command with its notes, as the summary prints it. */
export function formatCommand(command: PrintedCommand): string {
  return [command.line, ...command.notes.map((n) => `  (${n})`)].join('\n');
}
