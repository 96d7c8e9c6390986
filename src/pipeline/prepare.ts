/**
 * The step `migrate` and `verify` share: a chunk's documents through the transforms, and what the
 * transforms return checked (an object, a string `_id`, what the target can hold), so both see the
 * same documents a migration would write.
 *
 * Documents are settled (undefined fields made absent, values JSON cannot hold refused, depth
 * checked) as they enter, before any transform can recurse into them, and again as a transform that
 * may change their shape returns them.
 */
import { Unreadable } from '../formats/limits.js';
import type { NamedTransform } from '../transforms/index.js';
import { applyChain } from '../transforms/chain.js';
import type { Doc, TransformContext } from '../types.js';
import { badId, notADocument, settle } from './validate.js';

export interface PrepareStep {
  transforms: NamedTransform[];
  context: TransformContext;
  /** The target's own check (`Sink.check`), when there is one. */
  check?: (doc: Doc, collection: string) => string | undefined;
  /** The chunk's documents are settled already (SourceChunk.settled): the walk on entry is skipped. */
  settled?: boolean;
  /** Hears `read` for every value and `dropped` for every one the transforms removed, when given. */
  count?: (what: 'read' | 'dropped') => void;
  /** A document ready to write. A promise it returns is waited for before the next document (backpressure). */
  accept(doc: Doc, index: number): Promise<void> | undefined;
  /**
   * A value that cannot be written, with why: `doc` is what the source read or a transform
   * returned, or an Unreadable standing in for a document that cannot be kept as a value. A
   * promise it returns is waited for, as `accept`'s is.
   */
  reject(doc: unknown, reason: string, index: number): Promise<void> | void;
}

/** Prepares the documents of one chunk, in order; `index` is the document's place in `docs`. */
export async function prepareDocuments(docs: unknown[], step: PrepareStep): Promise<void> {
  const { transforms, context, check, count } = step;
  const resettle = transforms.some((t) => !t.keepsShape);
  for (let i = 0; i < docs.length; i++) {
    const raw = docs[i];
    count?.('read');
    if (raw instanceof Unreadable) {
      await step.reject(raw, raw.reason, i);
      continue;
    }
    const unsettled = !step.settled && typeof raw === 'object' && raw !== null ? settle(raw) : undefined;
    if (unsettled) {
      await step.reject(standIn(raw as object, unsettled), unsettled, i);
      continue;
    }
    const notObject = notADocument(raw);
    if (notObject) {
      await step.reject(raw, notObject, i);
      continue;
    }
    let result = applyChain(transforms, raw as Doc, context);
    if (result instanceof Promise) result = await result;
    if ('error' in result) {
      await step.reject(raw, result.error, i);
      continue;
    }
    if (result.docs.length === 0) count?.('dropped');
    for (const doc of result.docs) {
      const unsettled = resettle && typeof doc === 'object' && doc !== null ? settle(doc) : undefined;
      if (unsettled) {
        await step.reject(standIn(doc, unsettled), unsettled, i);
        continue;
      }
      const reason = notADocument(doc) ?? badId(doc) ?? check?.(doc, context.collection);
      if (reason) {
        await step.reject(doc, reason, i);
        continue;
      }
      const wait = step.accept(doc, i);
      if (wait) await wait;
    }
  }
}

/** What is kept of a value too deep to write anywhere, the dead letters included: its `_id`. */
function standIn(value: object, reason: string): Unreadable {
  const id = (value as { _id?: unknown })._id;
  return new Unreadable(reason, typeof id === 'string' ? id : undefined);
}
