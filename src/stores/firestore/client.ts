/**
 * The Firestore SDK, loaded only when a Firestore adapter is used, and the judgement of its errors.
 */
import type { Firestore } from '@google-cloud/firestore';
import { fatalError, messageOf } from '../../errors.js';
import { redact } from '../../util/redact.js';
import { isNetworkError } from '../common/retry.js';
import type { FirestoreConfig } from './config.js';

export type FirestoreSdk = typeof import('@google-cloud/firestore');

export async function connectFirestore(config: FirestoreConfig): Promise<{ db: Firestore; sdk: FirestoreSdk }> {
  if (!config.emulatorHost) await checkCredentials(config);
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

/**
 * Finds the credentials before the SDK does: when it cannot, the SDK's clients leave rejected
 * promises unhandled (the process dies with a stack trace) instead of failing the call.
 * google-auth-library is the auth layer the SDK itself uses (installed with it).
 */
async function checkCredentials(config: FirestoreConfig): Promise<void> {
  const { GoogleAuth } = await import('google-auth-library');
  try {
    await new GoogleAuth({ keyFilename: config.keyFilename, scopes: ['https://www.googleapis.com/auth/datastore'] }).getClient();
  } catch (error) {
    throw fatalError(
      'firestore-credentials',
      `no credentials for Firestore project ${config.projectId}: set GOOGLE_APPLICATION_CREDENTIALS to a service account key file, or FIRESTORE_EMULATOR_HOST for an emulator (${redact(messageOf(error))})`,
      error,
    );
  }
}

/** gRPC status codes the adapters act on. */
export const Code = {
  INVALID_ARGUMENT: 3,
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
