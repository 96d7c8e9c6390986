/**
 * `--shard INDEX/COUNT`: this process's share of a source. COUNT processes started with the
 * indexes 0..COUNT-1 (by hand, by `--workers`, by a Kubernetes Indexed Job or an AWS Batch array
 * job) together read every document exactly once. A source splits on its own split points
 * (Source.splits); one without any is read whole by every shard, and each keeps the documents whose
 * `_id` hashes to it (shardFilter). The files a shard writes under names the user gave once get
 * the shard in their name (shardFileName), so shards never overwrite each other.
 */
import { basename, dirname, join } from 'node:path';
import { usageError } from '../errors.js';
import { stableHash } from '../util/stable-hash.js';
import type { Doc, Shard, Sink, Source, SourceChunk } from '../types.js';
import { badId, notADocument } from './validate.js';

/** Where `--shard auto/COUNT` finds its index, in the order asked: the runners that start N copies with one. */
const shardIndexVariables = [
  ['JOB_COMPLETION_INDEX', 'Kubernetes Indexed Job'],
  ['AWS_BATCH_JOB_ARRAY_INDEX', 'AWS Batch array job'],
] as const;

const wholeNumber = /^(0|[1-9][0-9]*)$/;

/**
 * `INDEX/COUNT` (INDEX 0..COUNT-1) or `auto/COUNT`, the index then from the environment. Anything
 * else is a usage error of one line saying what was expected.
 */
export function parseShard(text: string, env: NodeJS.ProcessEnv): Shard {
  if (text.trim() === '') throw usageError('bad-shard', '--shard needs INDEX/COUNT (e.g. 0/4, INDEX from 0 to COUNT-1) or auto/COUNT');
  const parts = text.trim().split('/');
  if (parts.length !== 2 || !(wholeNumber.test(parts[0]!) || parts[0] === 'auto') || !wholeNumber.test(parts[1]!)) {
    throw usageError('bad-shard', `--shard ${text}: expected INDEX/COUNT (e.g. 0/4, INDEX from 0 to COUNT-1) or auto/COUNT`);
  }
  const count = Number(parts[1]);
  if (count < 1 || !Number.isSafeInteger(count)) throw usageError('bad-shard', `--shard ${text}: COUNT must be at least 1`);
  if (parts[0] !== 'auto') return checkedShard({ index: Number(parts[0]), count }, `--shard ${text}`);
  const found = shardIndexVariables.find(([name]) => env[name] !== undefined && env[name] !== '');
  if (!found) {
    const names = shardIndexVariables.map(([name, runner]) => `${name} (${runner})`).join(' nor ');
    throw usageError('bad-shard', `--shard ${text}: neither ${names} is set; outside such a job give the index: --shard 0/${count}`);
  }
  const [name] = found;
  const value = env[name]!.trim();
  if (!wholeNumber.test(value)) throw usageError('bad-shard', `--shard ${text}: ${name}=${env[name]} is not a whole number`);
  return checkedShard({ index: Number(value), count }, `--shard ${text} (${name}=${value})`, `the ${found[1]}'s size must be the COUNT of --shard auto/COUNT`);
}

/** A shard given as an object (the library's option), checked as the command line's is. */
export function checkedShard(shard: Shard, what = `shard ${JSON.stringify(shard)}`, hint = 'shards are numbered from 0, as JOB_COMPLETION_INDEX and AWS_BATCH_JOB_ARRAY_INDEX are'): Shard {
  const { index, count } = shard;
  if (!Number.isSafeInteger(count) || count < 1) throw usageError('bad-shard', `${what}: COUNT must be a whole number of at least 1`);
  if (!Number.isSafeInteger(index) || index < 0 || index >= count) {
    throw usageError('bad-shard', `${what}: INDEX must be from 0 to ${count - 1} (COUNT-1); ${hint}`);
  }
  return { index, count };
}

/** `2/4`, as the option is written. */
export function shardText(shard: Shard): string {
  return `${shard.index}/${shard.count}`;
}

/**
 * The file a shard writes where the user named one: `run.ckpt` → `run.shard-2-of-4.ckpt`,
 * `out.ndjson.gz` → `out.shard-2-of-4.ndjson.gz`, `report` → `report.shard-2-of-4`. The suffix goes
 * before the extension (both of `.X.gz`) so the file keeps the format its name says. The index is
 * written as the runners give it, unpadded, so a script can name a shard's file from
 * `$JOB_COMPLETION_INDEX` (docs/job-arrays.md).
 */
export function shardFileName(path: string, shard: Shard): string {
  const name = basename(path);
  const extension = /(\.[^./]+)?(\.gz)?$/i.exec(name.slice(1));
  const ext = extension?.[0] ?? '';
  const stem = name.slice(0, name.length - ext.length);
  const sharded = `${stem}.shard-${shard.index}-of-${shard.count}${ext}`;
  return path === name ? sharded : join(dirname(path), sharded);
}

/**
 * The shard an `_id` belongs to when the source has no split of its own: its stable hash
 * (util/stable-hash.ts) modulo the count, as CouchDB's and Firestore's own split assigns keys
 * (stores/common/key-shares.ts). Stable across runs, machines and versions: a resumed shard keeps
 * exactly the documents it kept before.
 */
export function shardOfId(id: string, count: number): number {
  return stableHash(id) % count;
}

/**
 * The shard a value read from the source belongs to, by its `_id`. What has no usable `_id` (not
 * a document, no `_id`, not a string) goes to shard 0 alone, so it is dead-lettered exactly once.
 */
function shardOf(value: unknown, count: number): number {
  if (notADocument(value) || badId(value as Doc)) return 0;
  return shardOfId((value as Doc)._id as string, count);
}

/**
 * The hash split (for a source without `splits`): each chunk keeps the documents, deletions and
 * refused entries of this shard; its position is kept whole, so checkpoints advance as in a whole
 * read and a resumed shard continues the same filter from the same place.
 */
export function shardFilter(shard: Shard): (chunk: SourceChunk) => SourceChunk {
  const mine = (value: unknown) => shardOf(value, shard.count) === shard.index;
  return (chunk) => {
    const kept: number[] = [];
    chunk.docs.forEach((doc, i) => {
      if (mine(doc)) kept.push(i);
    });
    const { where } = chunk;
    return {
      ...chunk,
      docs: kept.map((i) => chunk.docs[i]),
      ...(where ? { where: (index: number) => where(kept[index]!) } : {}),
      ...(chunk.refused ? { refused: shard.index === 0 ? chunk.refused : [] } : {}),
      ...(chunk.deletes ? { deletes: chunk.deletes.filter((id) => shardOfId(id, shard.count) === shard.index) } : {}),
    };
  };
}

/** The line a hash-split run prints: what it does and what it costs. */
function hashSplitNotice(shard: Shard, sourceLabel: string): string {
  const file = /^file:/i.test(sourceLabel) && !/\.(ndjson|jsonl)(\.gz)?$/i.test(sourceLabel);
  return (
    `--shard ${shardText(shard)}: ${sourceLabel} has no native split point, so every shard reads all of it and keeps the documents whose _id hashes to shard ${shard.index}: ` +
    `this spreads transforming and writing over the shards, not reading` +
    (file ? ' (an NDJSON file splits by byte ranges instead: convert it once with --to file:NAME.ndjson)' : '')
  );
}

/** Options whose shard is resolved to `{ index, count }`. */
export type Sharded<T extends { shard?: Shard | string }> = Omit<T, 'shard'> & { shard?: Shard };

/** What a run names once and a shard writes under its own name. */
interface ShardedFiles {
  shard?: Shard | string;
  env?: NodeJS.ProcessEnv;
  report?: string;
  deadLetter?: string;
  checkpoint?: string;
  to: string | Sink;
}

/** Where a shard writes its part of a target named once: a file target's path renamed, anything else as it is. */
export type ShardTarget = (to: string | Sink, shard: Shard) => string | Sink;

/**
 * The options of one shard: the shard resolved (`auto/4` from the environment) and checked, and
 * the report, dead letters, checkpoint and target (`target` says how a target is renamed) named
 * for it (shardFileName), so shards started side by side with the same command line never write
 * the same file.
 */
export function withShardFiles<T extends ShardedFiles>(options: T, target: ShardTarget): Sharded<T> {
  const { shard: given } = options;
  if (given === undefined) return options as Sharded<T>;
  const shard = typeof given === 'string' ? parseShard(given, options.env ?? process.env) : checkedShard(given);
  const rename = (path: string | undefined) => (path === undefined ? undefined : shardFileName(path, shard));
  return { ...options, shard, to: target(options.to, shard), report: rename(options.report), deadLetter: rename(options.deadLetter), checkpoint: rename(options.checkpoint) };
}

/** Refuses a stream read once (stdin): each shard must read the source itself. */
export function assertShardable(shard: Shard, source: Source): void {
  if (source.resumable === false) {
    throw usageError('bad-shard', `--shard ${shardText(shard)}: ${source.label} is a stream read once and cannot be shared between shards; save it to a file first (an NDJSON file splits by byte ranges)`);
  }
}

/**
 * How a shard reads this source: on its own split points, or, for a source without any, by the
 * hash split, announced with its cost. Also by the hash split when collections were named that
 * the source could not confirm before reading (`unconfirmed`): only a whole read can tell they
 * are not there, and a shard on a split reads a part. Answers the filter to apply to every chunk,
 * if any (the source is then read whole).
 */
export function shardRead(shard: Shard, source: Source, unconfirmed: readonly string[], warn: (line: string) => void): ((chunk: SourceChunk) => SourceChunk) | undefined {
  if (source.splits && unconfirmed.length === 0) return undefined;
  warn(source.splits ? namesUncheckedNotice(shard, source.label, unconfirmed) : hashSplitNotice(shard, source.label));
  return shardFilter(shard);
}

function namesUncheckedNotice(shard: Shard, sourceLabel: string, names: readonly string[]): string {
  return (
    `--shard ${shardText(shard)}: ${sourceLabel} cannot list its collections before reading, so only a whole read can check --collections ${names.join(',')}: ` +
    `every shard reads all of it and keeps the documents whose _id hashes to shard ${shard.index} (without --collections it would read its part only)`
  );
}
