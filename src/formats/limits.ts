/**
 * How deep and how large one document may be. Both are far above anything Gofannon stores
 * (Firestore allows 20 levels and 1 MiB, DynamoDB 32 levels and 400 KB, CouchDB 8 MB by default)
 * and well inside what the code can carry: at 512 levels every recursive walk over a document
 * (transforms, JSON.stringify, the stores' encoders, verify's digest) stays far from the stack's
 * limit (~10,000 frames), and one document's bytes never dominate memory.
 */
export const maxDepth = 512;
export const maxDocumentBytes = 16 * 1024 * 1024;

export const tooDeepReason = `nested deeper than ${maxDepth} levels`;
export const tooLargeReason = `larger than ${maxDocumentBytes / 1024 / 1024} MiB`;

/**
 * A document a reader found but could not take as a value (not valid UTF-8, too deep, too large):
 * it travels in its chunk's place so the pipeline dead-letters it with the reason, and the run goes on.
 */
export class Unreadable {
  constructor(
    readonly reason: string,
    /** Its `_id`, when it could be told without decoding anything wrongly. */
    readonly _id?: string,
    /** The document's bytes, for the dead letter, when they are small enough to keep. */
    readonly bytes?: Buffer,
  ) {}
}
