/**
 * The app, for the follow tests: a process that keeps changing CouchDB databases (inserts, updates,
 * deletes, in a fixed pseudo-random order) until it gets SIGTERM. It prints `ops N` after each change
 * (the tests' gate) and `stopped N` when it ends, exit 0.
 *
 *   node --import tsx test/servers/couch-writer.ts <server url> <db>...
 *
 * The url may carry credentials (the shared server's admin). WRITER_POOL: how many `_id`s per
 * database it plays with (`k0`…), default 200; WRITER_SEED: the order, default 1.
 */
const [url, ...dbs] = process.argv.slice(2);
if (!url || dbs.length === 0) throw new Error('usage: couch-writer.ts <url> <db>...');
const server = new URL(url);
const authorization = server.username ? `Basic ${Buffer.from(`${decodeURIComponent(server.username)}:${decodeURIComponent(server.password)}`).toString('base64')}` : undefined;
server.username = '';
server.password = '';
const base = server.toString().replace(/\/$/, '');
const pool = Number(process.env.WRITER_POOL ?? 200);
let seed = Number(process.env.WRITER_SEED ?? 1);

async function call(path: string, method = 'GET', body?: unknown): Promise<any> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (authorization) headers.authorization = authorization;
  const response = await fetch(`${base}/${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const answer = await response.json();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(answer)}`);
  return answer;
}

/** A small LCG (its high bits: the low ones repeat quickly): the same seed gives the same changes, run after run. */
function next(): number {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return Math.floor(seed / 2 ** 16);
}

let stopping = false;
process.on('SIGTERM', () => (stopping = true));

// What each database holds now: `_id` → [revision, version].
const held = new Map<string, Map<string, [string, number]>>();
for (const db of dbs) {
  const rows = (await call(`${encodeURIComponent(db)}/_all_docs?include_docs=true`)).rows as { id: string; doc: { _rev: string; v?: number } }[];
  held.set(db, new Map(rows.map((row) => [row.id, [row.doc._rev, row.doc.v ?? 0]])));
}

let ops = 0;
while (!stopping) {
  const db = dbs[next() % dbs.length]!;
  const id = `k${next() % pool}`;
  const docs = held.get(db)!;
  const current = docs.get(id);
  const path = `${encodeURIComponent(db)}/${encodeURIComponent(id)}`;
  if (current && next() % 3 === 0) {
    await call(`${path}?rev=${current[0]}`, 'DELETE');
    docs.delete(id);
  } else {
    const v = (current?.[1] ?? 0) + 1;
    const doc = { _id: id, ...(current ? { _rev: current[0] } : {}), v, by: 'writer', nested: { op: ops, list: [v, String(v)] } };
    const answer = await call(path, 'PUT', doc);
    docs.set(id, [answer.rev, v]);
  }
  process.stdout.write(`ops ${++ops}\n`);
}
process.stdout.write(`stopped ${ops}\n`);
