/** The library API: `import { migrate } from 'gofannon-etl'`. */
export { migrate, mergeReports } from './pipeline.js';
export type { MigrateOptions } from './pipeline.js';
export { readDocuments, DocumentReader, type ReadDocumentsOptions } from './library/read-documents.js';
export { writeDocuments, DocumentWriter, type WriteDocumentsOptions } from './library/write-documents.js';
export { fileSource, fileSink, type FileStreamSourceOptions, type FileStreamSinkOptions } from './library/file-streams.js';
export { openSource, openSink, parseUri, sourceSchemes, sinkSchemes } from './registry.js';
export { builtinTransforms, type TransformSpec } from './transforms/index.js';
export { memoryStore, memoryWriter, type MemoryWriter } from './stores/memory/store.js';
export { ExactNumber } from './formats/exact-number.js';
export { stringifyExact } from './formats/serialize.js';
export { EtlError, isEtlError, type ErrorCode, type ErrorKind } from './errors.js';
export type * from './types.js';
export { verify } from './verify/verify.js';
export type { VerifyOptions, VerifyReport, Difference, CollectionComparison } from './verify/verify.js';
