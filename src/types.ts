/**
 * The contracts between sources, transforms, sinks and the pipeline. Everything else in the tool
 * is an implementation of one of these or the code that joins them.
 */
import type { EtlError } from './errors.js';
import type { ExactNumber } from './formats/exact-number.js';
import type { InputFormat } from './formats/input-format.js';

/** A JSON value as documents hold it: numbers that a double cannot carry exactly are ExactNumber. */
export type JsonValue = null | boolean | number | ExactNumber | string | JsonValue[] | { [key: string]: JsonValue };

/** One document of a collection. `_id` is required by every store; the pipeline checks it. */
export type Doc = { [key: string]: JsonValue };

/**
 * A document a run could not write, with why and where it came from: a dead-letter line, an
 * `onFailed` call, a library stream's 'failed' event. `doc` is what the source read or a transform
 * returned, possibly not a document at all.
 */
export interface FailedDocument {
  collection: string;
  _id?: unknown;
  reason: string;
  /** Where the document came from, when known (`backup.json byte 1234`, `record 17`). */
  where?: string;
  /**
   * The document, or an `Unreadable` (formats/limits.ts) standing in for one that could not be read
   * as a value: the dead-letter file then holds its `bytes` (base64) instead.
   */
  doc: unknown;
}

/** A document and its collection: what the library's Node streams carry (readDocuments, writeDocuments). */
export interface DocumentRecord {
  collection: string;
  doc: Doc;
}

/**
 * Where a source stands: plain JSON, saved in checkpoints. The position carried by a chunk is the
 * source's whole cursor *after* that chunk, so once every chunk up to it has been written, reading
 * can restart from it (`SourceReadOptions.resumeFrom`).
 */
export type Position = { [key: string]: JsonValue };

/**
 * Documents a source read, all from one collection, in source order. A chunk with no documents
 * announces a collection (so empty collections are carried too). `docs` are unvalidated: anything a
 * store or file held, possibly not an object or without `_id`, or an `Unreadable` (formats/limits.ts)
 * where a document was found but could not be read as a value (the pipeline dead-letters it).
 */
export interface SourceChunk {
  collection: string;
  docs: unknown[];
  /** Cursor after this chunk (see Position); absent when the source cannot resume. */
  position?: Position;
  /** Where document `index` of this chunk came from, for error lines ("backup.json line 17"). */
  where?: (index: number) => string;
  /**
   * What the source read for this collection but cannot give as a document (a Firestore export's
   * subcollection, which Gofannon's layout has no place for; a value a backup tool encoded wrongly):
   * each is counted as read and dead-lettered with its reason, so nothing a backup held goes unseen.
   */
  refused?: RefusedEntry[];
  /**
   * Deletions (a change feed, an NDJSON change log's tombstones): these `_id`s are removed from the
   * target, in order with the chunks around them. Such a chunk has no `docs`.
   */
  deletes?: string[];
  /** From a change feed: how far the source's head is ahead of this chunk, where the store can say. */
  lag?: Lag;
  /**
   * From a change feed: this chunk reaches the feed's head (nothing more is waiting); `--until-caught-up`
   * ends there. A feed that reaches its head with nothing to give says so with a chunk of no
   * documents (one of the followed collections, its position the cursor), once each time, so a
   * follow with nothing changed ends too.
   */
  caughtUp?: boolean;
  /**
   * The source vouches that every document is a value JSON.parse made (so nothing is undefined) and
   * that none nests deeper than maxDepth: the pipeline then need not walk them (pipeline/prepare.ts).
   */
  settled?: boolean;
}

/** One entry a source read and refused, with why and where it was. */
export interface RefusedEntry {
  doc: unknown;
  reason: string;
  where?: string;
}

/** How far a follower is behind its source's head: changes waiting and/or seconds, where the store says. */
export interface Lag {
  changes?: number;
  seconds?: number;
}

/** This process's share of a source (`--shard INDEX/COUNT`): COUNT shards together read every document exactly once. */
export interface Shard {
  /** 0 .. count-1, as JOB_COMPLETION_INDEX and AWS_BATCH_JOB_ARRAY_INDEX count. */
  index: number;
  count: number;
}

/**
 * A source's change feed (`--follow`). The run takes `head` before its snapshot, so no change made
 * during the snapshot is lost, then applies `changes` from there until stopped.
 */
export interface ChangeFeed {
  /**
   * The feed's position now, for these collections. Throws a usage error saying what the store
   * needs when it cannot follow them (a DynamoDB table without a stream: how to enable one).
   */
  head(collections: readonly string[], signal: AbortSignal): Promise<Position>;
  /**
   * Every change after `from` until `signal` aborts: creates and updates as chunks of whole
   * documents, deletes as chunks with `deletes`. Each chunk's position is the feed's cursor after
   * it. At least once (a change may come again after a restart), never out of order for one `_id`.
   */
  changes(options: {
    collections: ReadonlySet<string>;
    from: Position;
    signal: AbortSignal;
    /**
     * The `_id`s the target holds in a collection (the sink's `ids`), for a feed that has no log of
     * deletes to resume from (Firestore): started again from a position of an earlier process, it
     * compares the source's current state with them, and what only the target holds is deleted.
     * The run passes it only once every chunk it handed over before this call is written. Absent
     * when the target cannot list its ids: such a feed then refuses to resume.
     */
    held?: (collection: string) => AsyncIterable<string[]>;
  }): AsyncIterable<SourceChunk>;
}

export interface SourceReadOptions {
  /** Only this share of the source; the source splits on its native split points (see Source.splits). */
  shard?: Shard;
  /** Only these collections (chosen by src/pipeline/collections.ts); undefined means every collection the source holds. */
  collections?: ReadonlySet<string>;
  /** Continue after this cursor (from a checkpoint). */
  resumeFrom?: Position;
  signal: AbortSignal;
}

export interface Source {
  /** Human-readable name with any secret redacted, e.g. `couchdb://admin:***@db:5984`. */
  readonly label: string;
  /** Provider name written into export metadata (`couchdb`, `file`, ...). */
  readonly provider: string;
  /**
   * Identity for checkpoints: a checkpoint is refused when the identity differs. Must not contain
   * secrets (e.g. path + size + mtime for a file, endpoint for a database).
   */
  identity(): Promise<string>;
  /** Collections the source holds, when it can list them cheaply; undefined when it cannot. */
  listCollections(): Promise<string[] | undefined>;
  /**
   * The store may hold other applications' data (a DynamoDB account, a Firestore project, a CouchDB
   * server): without --collections a run reads only Gofannon's collections (src/pipeline/collections.ts).
   */
  readonly shared?: boolean;
  /** Where the source looked (endpoint, region, key id's last four, project), for "nothing found"; default the label. */
  lookedAt?(): string;
  /**
   * For a store that cannot list (the Firestore emulator): which of these names it holds. Absent
   * when it cannot tell either.
   */
  holding?(names: string[]): Promise<string[]>;
  /** Document count of a collection when the store can tell cheaply (progress, plans). */
  count?(collection: string): Promise<number | undefined>;
  /** Total and done units (bytes for files) for an ETA, when the source knows them. */
  progress?(): { done: number; total: number } | undefined;
  /** False for sources that cannot be read again from a position (stdin is read once). */
  readonly resumable?: boolean;
  /**
   * How the source splits into shards, for plans and errors (`parallel scan segments`). Absent
   * when it has no native split point: `read` then ignores `shard` and the pipeline keeps, in
   * each shard, the documents whose `_id` hashes to it (see src/pipeline/shards.ts).
   */
  readonly splits?: string;
  /** Its change feed, for `--follow`; absent when the source has none (a file). */
  readonly feed?: ChangeFeed;
  read(options: SourceReadOptions): AsyncIterable<SourceChunk>;
  close(): Promise<void>;
}

/** The outcome for one document of a written batch, in the order of the batch. */
export type WriteOutcome =
  | { status: 'written' }
  /** Not written on purpose (e.g. `--on-conflict skip` and the document exists). */
  | { status: 'skipped'; reason: string }
  /** Could not be written; goes to the dead-letter file with the reason. */
  | { status: 'failed'; reason: string };

export type OnConflict = 'overwrite' | 'skip' | 'fail';

export interface Sink {
  readonly label: string;
  readonly provider: string;
  /** Documents per `write` call the pipeline should aim for. */
  readonly batchSize: number;
  /** Batches in flight at once; 1 for sinks that must write in order (files). */
  readonly concurrency: number;
  /** False for sinks that cannot continue a partial run (a file is rewritten whole). */
  readonly resumable?: boolean;
  identity(): Promise<string>;
  /**
   * Called once before any other call, with what the run knows of its source (file sinks write it
   * as metadata). `resumed`: the run continues a saved checkpoint (`--resume`), so a target that
   * can (a change log) appends to what the earlier run wrote instead of starting over.
   */
  begin?(run: { sourceProvider: string; resumed?: boolean }): Promise<void>;
  /**
   * Checks, before the first document is written, that the target can take these collections:
   * the names are valid, existing containers have the shape the sink writes (a table's key), and
   * the target can be read (and, where it can tell, containers created). Writes and creates
   * nothing. Answers every problem found, one error of one line each (naming the collection),
   * an empty list when there is none; throws only when the target cannot be asked at all
   * (unreachable, credentials refused). `collections` are those the run will write, or, when the
   * source cannot list them in advance, those it may write: the pipeline still calls `prepare`
   * for each collection, so a sink keeps its own checks there as the backstop.
   */
  preflight?(collections: readonly string[]): Promise<EtlError[]>;
  /** Creates the container for a collection (table, database) if missing; called once per collection before its first write. */
  prepare(collection: string): Promise<void>;
  /** What `prepare` would create, for dry-run plans; undefined when nothing. */
  wouldCreate?(collection: string): Promise<string | undefined>;
  /**
   * Why the store cannot hold this document (too large, bad field name, ...), checked before
   * batching so one bad document never fails a batch; undefined when it can.
   */
  check?(doc: Doc, collection: string): string | undefined;
  /**
   * Writes documents of one collection (each has a string `_id`, `check` passed). Answers per
   * document, in order. Retries transient failures itself; throws only for fatal errors (the target
   * is unreachable, misconfigured) that should stop the run.
   */
  write(collection: string, docs: Doc[], signal: AbortSignal): Promise<WriteOutcome[]>;
  /**
   * Removes documents by `_id` (from a change feed or a change log). A document already absent
   * counts as removed: deletes are idempotent, like writes. Answers per `_id`, in order; retries
   * transient failures itself. Absent on sinks that cannot delete (then --follow is refused).
   */
  remove?(collection: string, ids: string[], signal: AbortSignal): Promise<WriteOutcome[]>;
  /**
   * Every `_id` the target holds in a collection, in batches (none when it has no such container),
   * for a change feed that must compare after a restart (`ChangeFeed.changes`'s `held`). Absent on
   * sinks that cannot list them.
   */
  ids?(collection: string, signal: AbortSignal): AsyncIterable<string[]>;
  /** `complete` is false when the run failed or was stopped: a file sink then leaves no file (a change log keeps the changes it holds). */
  close(complete: boolean): Promise<void>;
}

/** Passed to every transform call. */
export interface TransformContext {
  collection: string;
  /** Source and target labels (redacted). */
  source: string;
  target: string;
}

/** What a transform returns: a document, several, or nothing to drop it. */
export type TransformResult = Doc | Doc[] | null | undefined | void;

/** A transform is a plain function of one document; it may be async. */
export type Transform = (doc: Doc, context: TransformContext) => TransformResult | Promise<TransformResult>;

/** Counts for one collection of a run. */
export interface CollectionStats {
  read: number;
  written: number;
  /** Not written on purpose by the sink (`--on-conflict skip`). */
  skipped: number;
  /** Removed by a transform. */
  dropped: number;
  /** Dead-lettered: invalid, rejected by the target, or undeliverable. */
  failed: number;
  /** Removed from the target (a change feed's deletes, an NDJSON change log's tombstones). */
  deleted: number;
}

/** What a caller may say about the stores of a run (CLI flags, library options). */
export interface StoreOptions {
  /** When the target already has the `_id` (default overwrite). */
  onConflict?: OnConflict;
  concurrency?: number;
  batchSize?: number;
  /** DynamoDB source: parallel scan segments. */
  segments?: number;
  /** DynamoDB: table name prefix. */
  tablePrefix?: string;
  /** CouchDB source: include `_design/` documents. */
  includeDesign?: boolean;
  /**
   * File source: its format (json, ndjson, couchbackup, dynamodb-export, firestore-export, array),
   * when neither its name nor its content tells, or to force one.
   */
  format?: InputFormat;
  /** File source: the collection of a file that holds one (couchbackup, array, DynamoDB export); default: named after the file. */
  collectionName?: string;
  /** DynamoDB source with --follow: turn on the table's stream when it has none. */
  enableStream?: boolean;
  /** Retries of transient errors per batch (default 8). */
  retries?: number;
  /** Configuration variables (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Warnings worth a line (never data). Default: stderr, redacted. */
  warn?: (message: string) => void;
}

/** What a store's halves get: the StoreOptions with their defaults filled in. */
export type AdapterOptions = StoreOptions &
  Required<Pick<StoreOptions, 'onConflict' | 'retries' | 'env' | 'warn'>> & {
    /**
     * For a target: the run follows the source's change feed (`--follow`), so a file target writes
     * an NDJSON change log, in place, each change in the file before it is acknowledged.
     */
    follow?: boolean;
  };

/** What an adapter module under src/sources or src/sinks exports. */
export interface SourceFactory {
  (uri: ParsedUri, options: AdapterOptions): Source | Promise<Source>;
}
export interface SinkFactory {
  (uri: ParsedUri, options: AdapterOptions): Sink | Promise<Sink>;
}

/** How far a run is: handed to `onProgress` as it advances and once at the end. */
export interface Progress {
  /** Collection being read. */
  collection?: string;
  collections: Record<string, CollectionStats>;
  elapsedMs: number;
  /** Units done / total from the source (bytes of a file), when it knows them. */
  source?: { done: number; total: number };
  /** Documents per collection as the store counts them, where that is cheap. */
  expected: Record<string, number>;
  /** With `follow`, once the snapshot is copied: the changes applied since. */
  following?: FollowProgress;
  done: boolean;
}

/** How a follow run is doing once its snapshot is copied. */
export interface FollowProgress {
  /** Changes (puts and deletes, as the feed gave them) applied to the target by this run. */
  applied: number;
  /** Since the snapshot ended (or, after a resume, since following began). */
  elapsedMs: number;
  /** The latest lag the feed reported, where the store says. */
  lag?: Lag;
  /** A caught-up chunk has been applied (nothing was waiting at the source's head then). */
  caughtUp: boolean;
}

/** What the target would create for a collection in a dry run (`table agents`), if anything. */
export interface PlannedCollection {
  collection: string;
  wouldCreate?: string;
}

/** What a run did: returned by `migrate`, written by `--report`, carried by the error that stopped a run. */
export interface RunReport {
  ok: boolean;
  interrupted: boolean;
  dryRun: boolean;
  source: string;
  target: string;
  transforms: string[];
  collections: Record<string, CollectionStats>;
  total: CollectionStats;
  durationMs: number;
  /** `paths`: after `report merge` or `--workers`, every shard's dead-letter file that holds some. */
  deadLetters: { count: number; path?: string; paths?: string[] };
  checkpoint?: string;
  /** Whether the run can be resumed (a file target is written whole, stdin is read once). */
  resumable: boolean;
  /** With --shard: the share of the source this run read (the shards' reports add up to the whole). */
  shard?: Shard;
  /** With dryRun: per collection, what the target would create. */
  plan?: PlannedCollection[];
  /** With dryRun: every reason the target could not take the run as it is (see Sink.preflight). */
  problems?: string[];
  /** Why the run stopped, one line, secrets redacted; only when it failed. */
  error?: string;
  /**
   * After a resume: what the earlier runs of the migration did, already counted in `collections`
   * and `total` (which cover the whole migration).
   */
  earlier?: CollectionStats;
  /** With `follow`: what following did (absent when the run stopped before the snapshot ended). */
  follow?: FollowReport;
}

/** What a follow run did after its snapshot. */
export interface FollowReport extends FollowProgress {
  /**
   * After a resume: changes the feed delivered again that the earlier run may already have sent to
   * the target (each applied at most twice; writes and deletes are idempotent). Never short of the
   * truth; bounded by what the earlier run had in flight past its saved position plus the writer's
   * window it records ahead: about two windows (batch size × concurrency) and one chunk.
   */
  reapplied: number;
}

/** `scheme:rest`, e.g. `file:backup.json` → { scheme: 'file', rest: 'backup.json', raw }. */
export interface ParsedUri {
  scheme: string;
  rest: string;
  raw: string;
}
