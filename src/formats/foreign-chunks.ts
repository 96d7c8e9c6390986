/**
 * SourceChunks for the readers of other tools' formats: documents batched per collection, with a
 * position that counts the entries read so far (every document the file holds, kept or not). A
 * resumed run reads the file again and skips that many entries: these formats give no byte offset
 * a reader could restart at (a DynamoDB export's files are skipped whole by their manifest counts).
 */
import { usageError } from '../errors.js';
import type { Position, RefusedEntry, SourceChunk } from '../types.js';
import type { ForeignFormat } from './input-format.js';

export interface ForeignPosition {
  format: ForeignFormat;
  /** Entries read (and written, once the chunk is acknowledged) from the start of the file. */
  entries: number;
  collection: string;
  [key: string]: string | number;
}

/** What every foreign reader is told. */
export interface ForeignReadOptions {
  /** The file (or folder) as the user named it, for `where` lines and messages. */
  name: string;
  /** The collection of a format that holds one: `--collection-name`, else the file's name; undefined for stdin without a name. */
  collection?: string;
  /** True when `collection` was given (`--collection-name`), not taken from the file's name. */
  collectionGiven: boolean;
  batchSize: number;
  collections?: ReadonlySet<string>;
  signal: AbortSignal;
  /** Skip this many entries (a checkpoint's `entries`). */
  resume?: { entries: number };
  /** CouchDB backups: keep `_design/` documents. */
  includeDesign?: boolean;
  warn(message: string): void;
}

/** How many entries a checkpoint's position says were done, once it is checked to be this format's. */
export function resumeEntries(position: Position | undefined, format: ForeignFormat, name: string): { entries: number } | undefined {
  if (!position) return undefined;
  const { entries } = position;
  if (position.format !== format || typeof entries !== 'number' || !Number.isSafeInteger(entries) || entries < 0) {
    throw usageError('bad-resume', `${name}: the checkpoint is not a position in a ${format} file`);
  }
  return { entries };
}

/** The collection of a file that holds one; stdin has no name to give it. */
export function oneCollection(options: Pick<ForeignReadOptions, 'name' | 'collection'>): string {
  if (options.collection !== undefined) return options.collection;
  throw usageError('collection-name', `${options.name} holds one collection and no file name to name it after: give --collection-name NAME`);
}

export class ChunkBuilder {
  /** Entries counted so far, from the start of the file. */
  entries = 0;
  private collection = '';
  private docs: unknown[] = [];
  private wheres: string[] = [];
  private refused: RefusedEntry[] = [];
  private readonly announced = new Set<string>();
  private ready: SourceChunk[] = [];

  constructor(
    private readonly format: ForeignFormat,
    private readonly options: Pick<ForeignReadOptions, 'batchSize' | 'collections' | 'resume'>,
  ) {}

  private wanted(collection: string): boolean {
    return !this.options.collections || this.options.collections.has(collection);
  }

  private position(entries: number, collection: string): ForeignPosition {
    return { format: this.format, entries, collection };
  }

  /**
   * A collection begins (carried even when it turns out empty). Its position is `at`: never past
   * an entry not yet handed over, or a checkpoint could skip it.
   */
  announce(collection: string, at = this.entries): void {
    if (this.announced.has(collection) || !this.wanted(collection)) return;
    this.flush(at);
    this.announced.add(collection);
    this.collection = collection;
    this.ready.push({ collection, docs: [], position: this.position(at, collection) });
  }

  /**
   * Counts the next entry of the file; true when the reader should hand it over (it comes after the
   * resume point and its collection was asked for), false to pass over it.
   */
  next(collection: string): boolean {
    this.entries++;
    if (this.entries <= (this.options.resume?.entries ?? 0) || !this.wanted(collection)) return false;
    if (collection !== this.collection) this.flush(this.entries - 1);
    this.announce(collection, this.entries - 1);
    this.collection = collection;
    return true;
  }

  /**
   * Passes over `count` entries without reading them, when they are known to lie before the resume
   * point (a DynamoDB export's data file, by its manifest count).
   */
  skipUnread(count: number): boolean {
    if (this.entries + count > (this.options.resume?.entries ?? 0)) return false;
    this.entries += count;
    return true;
  }

  /** The entry `next` just counted, as a document (still unvalidated: the pipeline checks it). */
  add(doc: unknown, where: string): void {
    this.docs.push(doc);
    this.wheres.push(where);
    this.full();
  }

  /** The entry `next` just counted, dead-lettered with its reason. */
  refuse(doc: unknown, reason: string, where: string): void {
    this.refused.push({ doc, reason, where });
    this.full();
  }

  private full(): void {
    if (this.docs.length + this.refused.length >= this.options.batchSize) this.flush(this.entries);
  }

  private flush(entries: number): void {
    if (this.docs.length === 0 && this.refused.length === 0) return;
    const wheres = this.wheres;
    const chunk: SourceChunk = { collection: this.collection, docs: this.docs, position: this.position(entries, this.collection), where: (index) => wheres[index]! };
    if (this.refused.length > 0) chunk.refused = this.refused;
    this.ready.push(chunk);
    this.docs = [];
    this.wheres = [];
    this.refused = [];
  }

  /** The chunks completed so far, handed over once. */
  take(): SourceChunk[] {
    const ready = this.ready;
    this.ready = [];
    return ready;
  }

  /** The rest, at the end of the file. */
  end(): SourceChunk[] {
    this.flush(this.entries);
    return this.take();
  }
}
