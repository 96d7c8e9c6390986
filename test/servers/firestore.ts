import { createRequire } from 'node:module';
import { freePort } from './free-port.js';
import type { RunningServer } from './dynamodb-local.js';

// Loaded through require: the package's ESM build ("module") has unresolvable extensionless imports.
const require = createRequire(import.meta.url);
const { FirestoreServer } = require('@firestore-emulator/server') as typeof import('@firestore-emulator/server');

/** Starts the Firestore emulator (gRPC) in this process on a free loopback port. */
export async function startFirestore(): Promise<RunningServer & { host: string }> {
  const port = await freePort();
  const server = new FirestoreServer();
  await server.start(port);
  return { url: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}`, port, stop: async () => server.stop() };
}
