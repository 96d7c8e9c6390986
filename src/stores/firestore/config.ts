/**
 * Where a Firestore adapter connects, from the URI and the environment Gofannon itself uses.
 *
 * The project: `firestore://project-id` when the URI names one (an explicit choice on the command
 * line); otherwise as the app finds it: `GOOGLE_CLOUD_PROJECT`, `GCLOUD_PROJECT`, the `project_id`
 * of the key file in `GOOGLE_APPLICATION_CREDENTIALS`; last `FIRESTORE_PROJECT_ID`, which only this
 * tool reads (so it never sends us to another project than the app's). With `FIRESTORE_EMULATOR_HOST`
 * the key file is not used to sign in, but its `project_id` still names the project.
 */
import { existsSync, readFileSync } from 'node:fs';
import { usageError } from '../../errors.js';
import type { ParsedUri } from '../../types.js';

export interface FirestoreConfig {
  projectId: string;
  /** `host:port` of an emulator; plain-text gRPC, no credentials. */
  emulatorHost?: string;
  /** Service account key file (GOOGLE_APPLICATION_CREDENTIALS); otherwise the default credential chain. */
  keyFilename?: string;
}

/** `warn` hears when FIRESTORE_PROJECT_ID names another project than the app's variables, which win. */
export function firestoreConfig(uri: ParsedUri, env: NodeJS.ProcessEnv, warn: (message: string) => void = () => {}): FirestoreConfig {
  const fromUri = uri.rest.replace(/^\/\//, '').replace(/\/$/, '');
  if (fromUri && !/^[a-z0-9][a-z0-9.:-]*$/i.test(fromUri)) {
    throw usageError('bad-firestore-uri', `"${uri.raw}" is not firestore://project-id`);
  }
  const emulatorHost = env.FIRESTORE_EMULATOR_HOST?.trim() || undefined;
  const keyFile = env.GOOGLE_APPLICATION_CREDENTIALS?.trim() || undefined;
  // Without an emulator the key file signs us in, so it must be there; with one it only may name the project.
  if (keyFile && !emulatorHost && !existsSync(keyFile)) {
    throw usageError('missing-credentials-file', `GOOGLE_APPLICATION_CREDENTIALS names ${keyFile}, which does not exist`);
  }
  const ours = env.FIRESTORE_PROJECT_ID?.trim() || undefined;
  const apps = fromUri ? undefined : env.GOOGLE_CLOUD_PROJECT?.trim() || env.GCLOUD_PROJECT?.trim() || keyFileProject(keyFile);
  if (apps && ours && apps !== ours) {
    warn(`Firestore: using project ${apps}, which the app's variables name, not FIRESTORE_PROJECT_ID=${ours} (write firestore://${ours} for that one)`);
  }
  const projectId = fromUri || apps || ours;
  if (!projectId) {
    throw usageError(
      'missing-firestore-project',
      'Firestore needs a project: set GOOGLE_CLOUD_PROJECT (or GCLOUD_PROJECT), GOOGLE_APPLICATION_CREDENTIALS to a key file with a project_id, or FIRESTORE_PROJECT_ID, or use firestore://project-id',
    );
  }
  return { projectId, emulatorHost, keyFilename: emulatorHost ? undefined : keyFile };
}

/** The `project_id` of a service account key file; undefined when there is no such file or field. */
function keyFileProject(path: string | undefined): string | undefined {
  if (!path || !existsSync(path)) return undefined;
  let key: unknown;
  try {
    key = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw usageError('missing-credentials-file', `GOOGLE_APPLICATION_CREDENTIALS names ${path}, which is not a readable JSON key file`, error);
  }
  const projectId = (key as { project_id?: unknown } | null)?.project_id;
  return typeof projectId === 'string' && projectId.trim() ? projectId.trim() : undefined;
}

/** `firestore://project` or `firestore://project (emulator 127.0.0.1:8080)`: no secrets in either. */
export function firestoreLabel(config: FirestoreConfig): string {
  return `firestore://${config.projectId}${config.emulatorHost ? ` (emulator ${config.emulatorHost})` : ''}`;
}
