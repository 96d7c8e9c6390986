import { createRequire } from 'node:module';
import { freePort } from './free-port.js';
import type { RunningServer } from './dynamodb-local.js';

// Loaded through require: the package's ESM build ("module") has unresolvable extensionless imports.
const require = createRequire(import.meta.url);
const { FirestoreServer, FirestoreStateDocument } = require('@firestore-emulator/server') as typeof import('@firestore-emulator/server');

/** Starts the Firestore emulator (gRPC) in this process on a free loopback port. */
export async function startFirestore(): Promise<RunningServer & { host: string }> {
  const port = await freePort();
  const server = new FirestoreServer();
  endListenOnHalfClose(server);
  replaceOnSet();
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

/**
 * A `set` without a field mask replaces the document in Firestore; this emulator merges it into the
 * fields already there, so a field the new version no longer has would stay (a follow into the
 * emulator then differs from its source). Its write path calls `set(date, fields, mask)` (three
 * arguments, the mask absent for a plain set); its field transforms call `set(date, fields)` to
 * change one field, which must keep merging.
 */
function replaceOnSet(): void {
  const proto = FirestoreStateDocument.prototype as unknown as { set(...args: unknown[]): void; fields: unknown; replacesOnSet?: true };
  if (proto.replacesOnSet) return;
  const original = proto.set;
  proto.set = function (this: typeof proto, ...args: unknown[]) {
    const mask = args[2] as string[] | undefined;
    if (args.length >= 3 && !mask?.length) this.fields = {};
    original.apply(this, args);
  };
  proto.replacesOnSet = true;
}
