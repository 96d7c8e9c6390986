import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort, waitFor } from './free-port.js';
import { stopChild, type RunningServer } from './dynamodb-local.js';

/**
 * Starts pouchdb-server (the CouchDB HTTP API on PouchDB) in memory on a free loopback port; with
 * `admin`, a server admin is configured (its config.json, hashed at start). What pouchdb-server then
 * enforces is less than CouchDB: a wrong name or password is refused (401) and so are the admin-only
 * routes (`_config`, ...), but documents stay readable and writable without credentials, even under
 * a `_security` object with members, and an anonymous database creation kills the server
 * (express-pouchdb calls `db.info` on the refusal) instead of answering 401.
 */
export async function startCouch(admin?: { user: string; password: string }): Promise<RunningServer> {
  const require = createRequire(import.meta.url);
  const pkgDir = dirname(require.resolve('pouchdb-server/package.json'));
  const port = await freePort();
  // pouchdb-server writes its config and log into the working directory: give it a scratch one.
  const cwd = mkdtempSync(join(tmpdir(), 'pouchdb-'));
  if (admin) writeFileSync(join(cwd, 'config.json'), JSON.stringify({ admins: { [admin.user]: admin.password } }), { mode: 0o600 });
  const child = spawn(process.execPath, [join(pkgDir, 'bin', 'pouchdb-server'), '--in-memory', '--port', String(port), '--host', '127.0.0.1'], {
    cwd,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (b) => (stderr += b));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor('pouchdb-server', async () => {
      if (child.exitCode !== null) throw new Error(`pouchdb-server exited: ${stderr}`);
      return (await fetch(url)).ok;
    });
  } catch (e) {
    await stopChild(child);
    throw e;
  }
  return { url, port, stop: () => stopChild(child) };
}

/**
 * The admin of the shared test server (test/global-setup.ts), so every test writes as an operator
 * of a real CouchDB does. The password is long enough to be masked wherever it appears (util/redact.ts).
 */
export const testCouchAdmin = { user: 'etl-admin', password: 'pouch-Admin-pw-4711' };

/** `http://host:port` with the shared server's admin in it: for the tool's URIs, also through a proxy. */
export function withTestAdmin(url: string): string {
  const parsed = new URL(url);
  parsed.username = encodeURIComponent(testCouchAdmin.user);
  parsed.password = encodeURIComponent(testCouchAdmin.password);
  return parsed.toString().replace(/\/$/, '');
}

/** The `Authorization` header of the shared server's admin, for raw requests (fetch takes no credentials in a URL). */
export function basicAuthorization(): string {
  return `Basic ${Buffer.from(`${testCouchAdmin.user}:${testCouchAdmin.password}`).toString('base64')}`;
}

/** A raw request to `url`/`path` as the shared server's admin, with a JSON body; answers the parsed JSON. */
export async function asCouchAdmin(url: string, path: string, init?: { method?: string; body?: unknown }): Promise<any> {
  const response = await fetch(`${url}/${path}`, {
    method: init?.method ?? 'GET',
    headers: { 'content-type': 'application/json', authorization: basicAuthorization() },
    body: init?.body === undefined ? undefined : JSON.stringify(init.body),
  });
  return response.json();
}
