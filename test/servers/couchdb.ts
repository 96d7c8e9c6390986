import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort, waitFor } from './free-port.js';
import { stopChild, type RunningServer } from './dynamodb-local.js';

/** Starts pouchdb-server (the CouchDB HTTP API on PouchDB) in memory on a free loopback port. */
export async function startCouch(): Promise<RunningServer> {
  const require = createRequire(import.meta.url);
  const pkgDir = dirname(require.resolve('pouchdb-server/package.json'));
  const port = await freePort();
  // pouchdb-server writes its config and log into the working directory: give it a scratch one.
  const cwd = mkdtempSync(join(tmpdir(), 'pouchdb-'));
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
