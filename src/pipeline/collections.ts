/**
 * Which collections a run reads: one rule for every source, so no adapter decides on its own.
 *
 * - `--collections a,b` takes exactly those, Gofannon's or not; a name the source does not hold is
 *   refused (it lists what the source holds). `--collections '*'` takes everything it holds.
 * - Without a choice, a store that may hold other applications' data (a DynamoDB account, a
 *   Firestore project, a CouchDB server) gives Gofannon's collections found there, and one line
 *   names what was left out; files and memory give all they hold; a store that cannot list (the
 *   Firestore emulator) gives Gofannon's nine.
 * - Nothing found is never a quiet success: it is an error that says where the source looked.
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
}

export async function selectCollections(source: Source, requested: string[] | undefined, warn: (message: string) => void): Promise<Selection> {
  const held = await source.listCollections();
  return { chosen: choose(source, held, requested, warn), listed: held !== undefined };
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

/** The error for a source where nothing was found to read. */
export function nothingFound(source: Source, held: string[] = []): EtlError {
  const what = held.length > 0 ? `none of Gofannon's collections (${gofannonCollections.join(', ')}), only ${held.join(', ')}` : 'no collections';
  return usageError('nothing-found', `nothing to read: found ${what} at ${lookedAt(source)}`);
}

function lookedAt(source: Source): string {
  return source.lookedAt?.() ?? source.label;
}
