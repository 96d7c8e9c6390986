import { messageOf } from '../errors.js';
import type { Doc, TransformContext, TransformResult } from '../types.js';
import type { NamedTransform } from './index.js';

/** What a chain made of one document: the documents to write, or the reason it threw. */
export type ChainResult = { docs: Doc[] } | { error: string };

function collect(result: TransformResult, into: Doc[]): void {
  if (result === null || result === undefined) return;
  if (Array.isArray(result)) into.push(...result);
  else into.push(result);
}

/**
 * Runs the transforms in order over one document. Synchronous transforms stay synchronous (no
 * promise per document on the hot path); an async one makes the rest of this document's chain async.
 */
export function applyChain(transforms: NamedTransform[], doc: Doc, context: TransformContext): ChainResult | Promise<ChainResult> {
  let docs: Doc[] = [doc];
  for (let t = 0; t < transforms.length; t++) {
    const transform = transforms[t]!;
    const next: Doc[] = [];
    for (let i = 0; i < docs.length; i++) {
      let result: TransformResult | Promise<TransformResult>;
      try {
        result = transform.apply(docs[i]!, context);
      } catch (error) {
        return { error: `transform ${transform.name} failed: ${messageOf(error)}` };
      }
      if (result instanceof Promise) return finishAsync(transforms, t, docs, i, next, result, context);
      collect(result, next);
    }
    docs = next;
  }
  return { docs };
}

/** The rest of the chain once a transform returned a promise: the same steps, awaited. */
async function finishAsync(
  transforms: NamedTransform[],
  t: number,
  docs: Doc[],
  i: number,
  next: Doc[],
  pending: Promise<TransformResult>,
  context: TransformContext,
): Promise<ChainResult> {
  let name = transforms[t]!.name;
  try {
    collect(await pending, next);
    for (let j = i + 1; j < docs.length; j++) collect(await transforms[t]!.apply(docs[j]!, context), next);
    let current = next;
    for (let k = t + 1; k < transforms.length; k++) {
      name = transforms[k]!.name;
      const out: Doc[] = [];
      for (const d of current) collect(await transforms[k]!.apply(d, context), out);
      current = out;
    }
    return { docs: current };
  } catch (error) {
    return { error: `transform ${name} failed: ${messageOf(error)}` };
  }
}
