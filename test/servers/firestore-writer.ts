/**
 * The app, writing to Firestore (the emulator), for the follow tests: a process that keeps
 * changing collections (inserts, updates, deletes, in a fixed pseudo-random order) until SIGTERM.
 * It prints `ops N` after each change (the tests' gate) and `stopped N` when it ends, exit 0: the
 * protocol of test/servers/writer-process.ts.
 *
 *   FIRESTORE_EMULATOR_HOST=… GOOGLE_CLOUD_PROJECT=… node --import tsx test/servers/firestore-writer.ts <collection>...
 *
 * WRITER_POOL: how many `_id`s per collection it plays with (`k0`…), default 200; WRITER_SEED: the order, default 1.
 */
import { Firestore } from '@google-cloud/firestore';

const collections = process.argv.slice(2);
if (collections.length === 0) throw new Error('usage: firestore-writer.ts <collection>...');
const firestore = new Firestore({ projectId: process.env.GOOGLE_CLOUD_PROJECT, host: process.env.FIRESTORE_EMULATOR_HOST, ssl: false });
const pool = Number(process.env.WRITER_POOL ?? 200);
let seed = Number(process.env.WRITER_SEED ?? 1);

/** The LCG of couch-writer.ts (its high bits: the low ones repeat quickly). */
function next(): number {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return Math.floor(seed / 2 ** 16);
}

let stopping = false;
process.on('SIGTERM', () => (stopping = true));

// What each collection holds now: `_id` → version.
const held = new Map<string, Map<string, number>>();
for (const name of collections) {
  const snapshot = await firestore.collection(name).get();
  held.set(name, new Map(snapshot.docs.map((d) => [d.id, Number(d.get('v') ?? 0)])));
}

let ops = 0;
while (!stopping) {
  const name = collections[next() % collections.length]!;
  const id = `k${next() % pool}`;
  const docs = held.get(name)!;
  const current = docs.get(id);
  const ref = firestore.collection(name).doc(id);
  if (current !== undefined && next() % 3 === 0) {
    await ref.delete();
    docs.delete(id);
  } else {
    const v = (current ?? 0) + 1;
    await ref.set({ v, by: 'writer', nested: { op: ops, list: [v, String(v)] } });
    docs.set(id, v);
  }
  process.stdout.write(`ops ${++ops}\n`);
}
process.stdout.write(`stopped ${ops}\n`);
await firestore.terminate();
