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
  endListenOnHalfClose(server);
  await server.start(port);
  return { url: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}`, port, stop: async () => server.stop() };
}

/**
 * Firestore ends a Listen stream once the client half-closes it (what the SDK does when a listener
 * is unsubscribed); this emulator only stops sending, so the call, and the client's socket with it,
 * stays open and a process that followed changes never exits. Its Listen handler (looked up per
 * call in grpc-js's handler table) is wrapped to end the call as the service does.
 */
function endListenOnHalfClose(server: InstanceType<typeof FirestoreServer>): void {
  const handlers = ((server as unknown as { server: unknown }).server as { handlers: Map<string, { func: (call: { once(e: string, f: () => void): void; end(): void }) => void }> }).handlers;
  const listen = handlers.get('/google.firestore.v1.Firestore/Listen');
  if (!listen) throw new Error('the Firestore emulator has no Listen handler to wrap');
  const original = listen.func;
  listen.func = (call) => {
    call.once('end', () => call.end());
    original(call);
  };
}
