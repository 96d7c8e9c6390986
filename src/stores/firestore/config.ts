/**
 * Where a Firestore adapter connects, from the URI and the environment Gofannon itself uses:
 * `FIRESTORE_PROJECT_ID` (or `firestore://project-id`), `GOOGLE_APPLICATION_CREDENTIALS` and the
 * client's `FIRESTORE_EMULATOR_HOST`.
 */
import { existsSync } from 'node:fs';
import { usageError } from '../../errors.js';
import type { ParsedUri } from '../../types.js';

export interface FirestoreConfig {
  projectId: string;
  /** `host:port` of an emulator; plain-text gRPC, no credentials. */
  emulatorHost?: string;
  /** Service account key file (GOOGLE_APPLICATION_CREDENTIALS); otherwise the default credential chain. */
  keyFilename?: string;
}

export function firestoreConfig(uri: ParsedUri, env: NodeJS.ProcessEnv): FirestoreConfig {
  const fromUri = uri.rest.replace(/^\/\//, '').replace(/\/$/, '');
  if (fromUri && !/^[a-z0-9][a-z0-9.:-]*$/i.test(fromUri)) {
    throw usageError('bad-firestore-uri', `"${uri.raw}" is not firestore://project-id`);
  }
  const projectId = fromUri || env.FIRESTORE_PROJECT_ID?.trim();
  if (!projectId) {
    throw usageError('missing-firestore-project', 'Firestore needs a project: set FIRESTORE_PROJECT_ID or use firestore://project-id');
  }
  const emulatorHost = env.FIRESTORE_EMULATOR_HOST?.trim() || undefined;
  const keyFilename = emulatorHost ? undefined : env.GOOGLE_APPLICATION_CREDENTIALS?.trim() || undefined;
  if (keyFilename && !existsSync(keyFilename)) {
    throw usageError('missing-credentials-file', `GOOGLE_APPLICATION_CREDENTIALS names ${keyFilename}, which does not exist`);
  }
  return { projectId, emulatorHost, keyFilename };
}

/** `firestore://project` or `firestore://project (emulator 127.0.0.1:8080)`: no secrets in either. */
export function firestoreLabel(config: FirestoreConfig): string {
  return `firestore://${config.projectId}${config.emulatorHost ? ` (emulator ${config.emulatorHost})` : ''}`;
}
