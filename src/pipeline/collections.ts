/**
 * Which collections a run reads: one rule for every source, so no adapter decides on its own.
 *
 * - `--collections a,b` takes exactly those, Gofannon's or not; a name the source does not hold is
 *   refused (it lists what the source holds). `--collections '*'` takes everything it holds.
 * - Without a choice, a store that may hold other applications' data (a DynamoDB account, a
 *   Firestore project, a CouchDB server) gives Gofannon's collections found there, and one line
 *   names what was left out; files and memory give all they hold; a store that cannot list (the
 *   Firestore emulator) gives those of Gofannon's nine it holds (`Source.holding`), so nothing is
 *   prepared in the target for a collection that is not there.
 * - Nothing found is never a quiet success: it is an error that says where the source looked.
 * - A source that can tell neither (stdin, a gzipped export whose list comes last) is checked once
 *   read whole: a named collection it turned out not to hold is refused then (`checkChosenRead`).
 */
import { usageError, type EtlError } from '../errors.js';
import { gofannonCollections, isGofannonCollection } from '../gofannon.js';
import type { Source } from '../types.js';

const allCollections = '*';

export interface Selection {
  /** The collections to read, in order; undefined means "all it holds" for a source that cannot list them up front. */
  chosen?: string[];
  /** The source listed what it holds (so a read that finds nothing is not "nothing found"). */
  listed: boolean;
  /** Named collections the source could not confirm before reading: checked once read whole. */
  unconfirmed: string[];
}

export async function selectCollections(source: Source, requested: string[] | undefined, warn: (message: string) => void): Promise<Selection> {
  const held = (await source.listCollections()) ?? (await probe(source, requested));
  const chosen = choose(source, held, requested, warn);
  const named = requested && !requested.includes(allCollections) ? chosen! : [];
  return { chosen, listed: held !== undefined, unconfirmed: held === undefined ? named : [] };
}

/**
 * What a source that cannot list can still tell (the Firestore emulator: a collection exists while it
 * has a document): which of Gofannon's nine and of the names asked for it holds. Undefined when it
 * cannot tell either. `'*'` cannot be read from such a store.
 */
async function probe(source: Source, requested: string[] | undefined): Promise<string[] | undefined> {
  if (!source.holding) return undefined;
  if (requested?.includes(allCollections)) {
    throw usageError('cannot-list-collections', `${lookedAt(source)} cannot list its collections, so '*' cannot be read: name them with --collections`);
  }
  return source.holding([...new Set([...gofannonCollections, ...(requested ?? [])])].sort());
}

function choose(source: Source, held: string[] | undefined, requested: string[] | undefined, warn: (message: string) => void): string[] | undefined {
  const everything = requested?.includes(allCollections) ?? false;
  if (everything && requested!.length > 1) {
    throw usageError('bad-collections', `--collections '*' means every collection; do not name others with it`);
  }
  if (requested && !everything) {
    const unknown = held ? requested.filter((name) => !held.includes(name)) : [];
    if (unknown.length > 0) {
      throw usageError(
        'unknown-collection',
        `${source.label} holds no collection ${unknown.join(', ')}; it holds ${held!.length > 0 ? held!.join(', ') : 'none'} (looked at ${lookedAt(source)})`,
      );
    }
    return [...requested].sort();
  }
  if (!held) return everything || !source.shared ? undefined : [...gofannonCollections].sort();
  const chosen = everything || !source.shared ? held : held.filter(isGofannonCollection);
  const left = held.filter((name) => !chosen.includes(name));
  if (left.length > 0) {
    warn(`${source.label}: left out ${left.join(', ')} (not Gofannon's); name them with --collections, or --collections '*' for all`);
  }
  if (chosen.length === 0) throw nothingFound(source, held);
  return [...chosen].sort();
}

/**
 * After a whole read: a named collection the source could not confirm up front (see Selection) and
 * that never came is refused, naming what the source turned out to hold.
 */
export async function checkChosenRead(source: Source, selection: Selection, seen: ReadonlySet<string>): Promise<void> {
  const unknown = selection.unconfirmed.filter((name) => !seen.has(name));
  if (unknown.length === 0) return;
  // A file learns its list of collections (its metadata) as it is read.
  const held = (await source.listCollections()) ?? [...seen].sort();
  throw usageError('unknown-collection', `${source.label} holds no collection ${unknown.join(', ')}; it holds ${held.length > 0 ? held.join(', ') : 'none'} (looked at ${lookedAt(source)})`);
}

/** The error for a source where nothing was found to read. */
export function nothingFound(source: Source, held: string[] = []): EtlError {
  const what = held.length > 0 ? `none of Gofannon's collections (${gofannonCollections.join(', ')}), only ${held.join(', ')}` : 'no collections';
  return usageError('nothing-found', `nothing to read: found ${what} at ${lookedAt(source)}`);
}

function lookedAt(source: Source): string {
  return source.lookedAt?.() ?? source.label;
}
