import { copyValue } from '../src/stores/memory/store.js';
import type { Doc } from '../src/types.js';
import { corpus, corpusWithoutBigIntegers } from './corpus.js';

/**
 * The shared corpus in the shapes Firestore itself can hold: document ids cannot contain "/" and
 * an array cannot hold an array (the sink refuses both per document, see firestore.test.ts).
 * `bigIntegers: false` also leaves out integers beyond 2^53, which the in-process emulator cannot
 * store (it decodes int64 into JS numbers); production Firestore keeps them (firestore-unit.test.ts
 * checks the exact wire values).
 */
export function firestoreCorpus({ bigIntegers }: { bigIntegers: boolean }): Record<string, Doc[]> {
  const data = bigIntegers ? corpus() : corpusWithoutBigIntegers();
  return Object.fromEntries(
    Object.entries(data).map(([collection, docs]) => [
      collection,
      docs.map((doc) => {
        const copy = copyValue(doc);
        copy._id = String(copy._id).replaceAll('/', '|');
        if (copy._id === 'agent-1') copy.nested = { a: { b: { c: { d: [1, { x: [2, { y: [3, { e: 'deep' }] }] }] } } } };
        return copy;
      }),
    ]),
  );
}
