/**
 * Secrets kept: a CouchDB password (in the URL or COUCHDB_PASSWORD), AWS secret keys and session
 * tokens never reach stdout, stderr, reports, checkpoints, dead-letter files or backups, in success
 * or failure, with --verbose too; an unreachable server is named by host and port with the reason;
 * backups are 0600.
 *
 * The CouchDB runs use their own pouchdb-server with an admin (the shared one is in admin party,
 * which refuses unknown credentials with 401, and giving it an admin would lock out other tests).
 */
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { startCouch } from './servers/couchdb.js';
import type { RunningServer } from './servers/dynamodb-local.js';
import { freePort } from './servers/free-port.js';
import { cleanEnv, runCli, writeGeneratedExport, type CliResult } from './generated-export.js';
import { uniquePrefix } from './corpus.js';

const password = 'S3cretPw';
const awsSecret = 'wJalrXUtnFEMIK7MDENGbPxRfiCYSECRETKEY';
const awsToken = 'IQoJb3JpZ2luX2VjSESSIONTOKENx9z8y7';
const secrets = [password, Buffer.from(`admin:${password}`).toString('base64'), awsSecret, awsToken];
const awsEnv = { AWS_ACCESS_KEY_ID: 'AKIAEXAMPLEKEY', AWS_SECRET_ACCESS_KEY: awsSecret, AWS_SESSION_TOKEN: awsToken, AWS_REGION: 'us-east-1' };

const dynamoUri = inject('dynamodbUrl').replace(/^http:/, 'dynamodb:');
let couch: RunningServer;
let echo: Server;
let echoPort: number;

beforeAll(async () => {
  couch = await startCouch();
  const made = await fetch(`${couch.url}/_config/admins/admin`, { method: 'PUT', body: JSON.stringify(password) });
  expect(made.status).toBe(200);
  // A server that fails every request and echoes what it was sent, credentials included.
  echo = createServer((req, res) => {
    const reason = `cannot serve ${req.method} http://admin:${password}@${req.headers.host}${req.url} (authorization: ${req.headers.authorization})`;
    res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'unknown_error', reason }));
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  echoPort = (echo.address() as { port: number }).port;
});
afterAll(async () => {
  await couch?.stop();
  await new Promise((resolve) => echo?.close(resolve));
});

/** A scratch directory with an export holding one document the target must refuse (no _id). */
function scratch(collection: string): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'secrets-'));
  const file = join(dir, 'export.json');
  const data = writeGeneratedExport(file, { [collection]: 120 });
  data[collection]!.push({ name: 'no id here' } as never);
  const metadata = { provider: 'memory', exported_at: '2026-01-11T10:00:00Z', collections: [collection] };
  // Written again with the refused document: writeGeneratedExport only makes valid ones.
  writeFileSync(file, JSON.stringify({ metadata, data }, null, 2));
  return { dir, file };
}

/** Output flags that could carry a secret, all pointed into `dir`. */
function outputs(dir: string): string[] {
  return ['--verbose', '--report', join(dir, 'report.json'), '--checkpoint', join(dir, 'ckpt.json'), '--dead-letter', join(dir, 'dead.ndjson')];
}

/** No secret in the run's output nor in any file it left behind. */
function expectNoSecret(run: CliResult, dir: string): void {
  const texts: [string, string][] = [['stdout', run.stdout], ['stderr', run.stderr]];
  for (const name of readdirSync(dir)) texts.push([name, readFileSync(join(dir, name), 'latin1')]);
  for (const [where, text] of texts) {
    for (const secret of secrets) {
      expect(text.includes(secret) || text.includes(encodeURIComponent(secret)), `${secret} leaked into ${where}:\n${text.slice(0, 2000)}`).toBe(false);
    }
  }
}

const couchAt = (port: number) => `couchdb://admin:${password}@127.0.0.1:${port}`;

test('CouchDB password in the URL: success with a refused document, nothing leaks; the label shows admin:***@', async () => {
  const collection = `${uniquePrefix()}_agents`;
  const { dir, file } = scratch(collection);
  const run = await runCli(['--from', `file:${file}`, '--to', couchAt(couch.port), ...outputs(dir)], cleanEnv());
  expect(run.code, run.stderr).toBe(1);
  expect(run.stdout).toContain(`couchdb://admin:***@127.0.0.1:${couch.port}`);
  expect(readFileSync(join(dir, 'dead.ndjson'), 'utf8')).toContain('document has no _id');
  expect(JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')).collections[collection]).toMatchObject({ written: 120, failed: 1 });
  expectNoSecret(run, dir);
});

test('COUCHDB_PASSWORD: a backup to a file with --verify, nothing leaks, the backup is 0600', async () => {
  const collection = `${uniquePrefix()}_users`;
  const { dir, file } = scratch(collection);
  const env = cleanEnv({ COUCHDB_URL: couch.url, COUCHDB_USER: 'admin', COUCHDB_PASSWORD: password });
  const loaded = await runCli(['--from', `file:${file}`, '--to', 'couchdb', '--quiet'], env);
  expect(loaded.code, loaded.stderr).toBe(1);
  const backup = join(dir, 'backup.json');
  const run = await runCli(['--from', 'couchdb', '--to', `file:${backup}`, '--collections', collection, '--verify', ...outputs(dir)], env);
  expect(run.code, run.stderr).toBe(0);
  expect(run.stdout).toMatch(/Identical/);
  expect(statSync(backup).mode & 0o777).toBe(0o600);
  for (const name of ['report.json', 'ckpt.json']) expect(statSync(join(dir, name)).mode & 0o777, name).toBe(0o600);
  expectNoSecret(run, dir);
});

test('unreachable CouchDB: host, port and reason, no password, with --verbose', async () => {
  const port = await freePort();
  const { dir, file } = scratch(`${uniquePrefix()}_tickets`);
  // --retries 1: a refused connection is retried like any dropped one (8 times by default, ~25 s).
  const run = await runCli(['--from', `file:${file}`, '--to', couchAt(port), '--retries', '1', ...outputs(dir)], cleanEnv({ COUCHDB_PASSWORD: password }));
  expect(run.code).toBe(3);
  expect(run.stderr).toContain(`cannot reach CouchDB at 127.0.0.1:${port}: connection refused`);
  expectNoSecret(run, dir);
});

test('a server that echoes credentials in its errors: they are masked everywhere', async () => {
  const { dir, file } = scratch(`${uniquePrefix()}_sessions`);
  const run = await runCli(['--from', `file:${file}`, '--to', couchAt(echoPort), '--retries', '1', ...outputs(dir)], cleanEnv());
  expect(run.code).toBe(3);
  expect(run.stderr).toContain(`127.0.0.1:${echoPort}`);
  expectNoSecret(run, dir);
});

test('AWS secret key and session token: success with a refused document and an unreachable endpoint, nothing leaks', async () => {
  const { dir, file } = scratch('agents');
  const prefix = `${uniquePrefix()}_`;
  const ok = await runCli(['--from', `file:${file}`, '--to', dynamoUri, '--table-prefix', prefix, ...outputs(dir)], cleanEnv(awsEnv));
  expect(ok.code, ok.stderr).toBe(1);
  expect(JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')).total).toMatchObject({ written: 120, failed: 1 });
  expectNoSecret(ok, dir);

  const port = await freePort();
  const failedDir = mkdtempSync(join(tmpdir(), 'secrets-'));
  const failed = await runCli(['--from', `file:${file}`, '--to', `dynamodb://127.0.0.1:${port}`, '--retries', '1', ...outputs(failedDir)], cleanEnv(awsEnv));
  expect(failed.code).toBe(3);
  expect(failed.stderr).toContain(`127.0.0.1:${port}`);
  expect(failed.stderr).toMatch(/refused|ECONNREFUSED/i);
  expectNoSecret(failed, failedDir);
});
