/**
 * Which collections a source reads, decided the same way for every store: the chosen ones
 * (`--collections`) or every one the store holds, in name order. A chosen collection the store
 * does not hold is named to the store (which says so in its own words), never skipped in silence.
 * After a resume, the collections before the checkpoint's were read whole and are left out, and the
 * checkpoint's own collection is entered at the checkpoint's position.
 */
import type { Position } from '../../types.js';

export interface CollectionToRead {
  collection: string;
  /** The checkpoint's position, when the resumed run stopped inside this collection. */
  resumeAt?: Position;
}

export interface CollectionChoice {
  /** The chosen collections; undefined for every one the store holds. */
  collections?: ReadonlySet<string>;
  resumeFrom?: Position;
  /** Hears the chosen collections the store does not hold (only those still to read). */
  missing(names: string[]): void;
}

/** The collections to read, in order; `held` is undefined when the store cannot tell what it holds. */
export function collectionsToRead(held: readonly string[] | undefined, choice: CollectionChoice): CollectionToRead[] {
  const names = [...(choice.collections ?? held ?? [])].sort();
  const resumeCollection = typeof choice.resumeFrom?.collection === 'string' ? choice.resumeFrom.collection : undefined;
  // Sources read collections in name order, so a checkpoint's collection splits them into done and to do.
  const pending = resumeCollection === undefined ? names : names.filter((name) => name >= resumeCollection);
  const absent = held && choice.collections ? pending.filter((name) => !held.includes(name)) : [];
  if (absent.length > 0) choice.missing(absent);
  return pending
    .filter((name) => !absent.includes(name))
    .map((collection) => (collection === resumeCollection ? { collection, resumeAt: choice.resumeFrom } : { collection }));
}
