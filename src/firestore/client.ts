/**
 * The Firestore SDK, loaded only when a Firestore adapter is used, and the judgement of its errors.
 */
import type { Firestore } from '@google-cloud/firestore';
import { isNetworkError } from '../retry.js';
import type { FirestoreConfig } from './config.js';

export type FirestoreSdk = typeof import('@google-cloud/firestore');

export async function connectFirestore(config: FirestoreConfig): Promise<{ db: Firestore; sdk: FirestoreSdk }> {
  const sdk = await import('@google-cloud/firestore');
  const db = new sdk.Firestore({
    projectId: config.projectId,
    // int64 values arrive as bigint, so integers beyond 2^53 stay exact.
    useBigInt: true,
    ...(config.emulatorHost
      ? {
          // Passed explicitly so the emulator in options.env is honoured even when process.env has none.
          host: config.emulatorHost,
          ssl: false,
          // With a universe domain given, the auth library skips its GCE metadata probe, which
          // has nothing to find for an emulator and only prints a MetadataLookupWarning.
          universeDomain: 'googleapis.com',
        }
      : {}),
    ...(config.keyFilename ? { keyFilename: config.keyFilename } : {}),
  });
  return { db, sdk };
}

/** gRPC status codes the adapters act on. */
export const Code = {
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  ABORTED: 10,
  UNIMPLEMENTED: 12,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

export function grpcCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** Worth another try: Firestore's documented transient codes, and dropped connections. */
export function isTransientFirestoreError(error: unknown): boolean {
  const code = grpcCode(error);
  return (
    code === Code.UNAVAILABLE ||
    code === Code.RESOURCE_EXHAUSTED ||
    code === Code.ABORTED ||
    code === Code.DEADLINE_EXCEEDED ||
    (code === undefined && isNetworkError(error))
  );
}

/** Errors about the target as a whole (credentials, missing database): no document is to blame. */
export function isTargetError(error: unknown): boolean {
  const code = grpcCode(error);
  return code === Code.PERMISSION_DENIED || code === Code.UNAUTHENTICATED || code === Code.NOT_FOUND;
}
