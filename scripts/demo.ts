/**
 * `npm run demo`: the README's first command.
 *
 * Starts DynamoDB Local and pouchdb-server (the CouchDB HTTP API) from the devDependencies on free
 * loopback ports, then runs the real CLI on the sample Gofannon backup shipped in examples/:
 * file -> CouchDB -> DynamoDB -> file, verifying each hop and the whole round trip, and always
 * stops the servers. Exit code: 0 on success, the failing step's code otherwise, 2 without Java.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDynamoLocal, type RunningServer } from '../test/servers/dynamodb-local.js';
import { startCouch } from '../test/servers/couchdb.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin', 'gofannon-etl.js');
const sample = 'examples/sample-backup.json';
const output = 'demo-output/backup.json.gz';

const steps: string[][] = [
  ['--from', `file:${sample}`, '--to', 'couchdb', '--verify'],
  ['--from', 'couchdb', '--to', 'dynamodb', '--verify'],
  ['--from', 'dynamodb', '--to', `file:${output}`],
  ['verify', '--from', `file:${sample}`, '--to', `file:${output}`],
];

const started = Date.now();
const servers: RunningServer[] = [];
let launching: Promise<PromiseSettledResult<RunningServer>[]> | undefined;
let current: ChildProcess | undefined;
let stopping: Promise<void> | undefined;
let interrupted = false;

function seconds(): string {
  return `${((Date.now() - started) / 1000).toFixed(1)} s`;
}

/** Stops every server, including one still starting when Ctrl-C came. */
function stopServers(): Promise<void> {
  stopping ??= (async () => {
    const settled = launching ? await launching : [];
    const all = settled.flatMap((l) => (l.status === 'fulfilled' ? [l.value] : []));
    await Promise.allSettled(all.map((s) => s.stop()));
  })();
  return stopping;
}

function onSignal(signal: NodeJS.Signals): void {
  if (interrupted) return;
  interrupted = true;
  process.stderr.write(`\ndemo: ${signal}, stopping the servers\n`);
  // Let the running CLI stop cleanly first (a terminal's Ctrl-C reaches it too), then the servers.
  const child = current;
  const childGone = new Promise<void>((done) => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return done();
    child.once('exit', () => done());
    child.kill(signal);
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });
  void childGone.then(stopServers).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
}

function run(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: root, env, stdio: 'inherit' });
    current = child;
    child.on('error', (e) => {
      process.stderr.write(`demo: could not start the CLI: ${e.message}\n`);
      resolveRun(1);
    });
    child.on('exit', (code, signal) => {
      current = undefined;
      resolveRun(code ?? (signal ? 1 : 0));
    });
  });
}

async function main(): Promise<number> {
  const java = spawnSync('java', ['-version'], { stdio: 'ignore' });
  if (java.error || java.status !== 0) {
    process.stderr.write(
      'demo: Java 17+ is needed to run DynamoDB Local: install it (Debian/Ubuntu: apt-get install openjdk-17-jre-headless), then run npm run demo again\n',
    );
    return 2;
  }

  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  console.log('demo: starting DynamoDB Local and pouchdb-server (CouchDB API), in memory…');
  launching = Promise.allSettled([startDynamoLocal(), startCouch()]);
  const launched = await launching;
  if (interrupted) return 130;
  for (const l of launched) if (l.status === 'fulfilled') servers.push(l.value);
  const failed = launched.find((l): l is PromiseRejectedResult => l.status === 'rejected');
  if (failed) {
    process.stderr.write(`demo: a server did not start: ${failed.reason instanceof Error ? failed.reason.message : String(failed.reason)}\n`);
    return 1;
  }
  const [dynamo, couch] = servers;
  console.log(`demo: DynamoDB Local listens on ${dynamo.url}, pouchdb-server on ${couch.url} (${seconds()})`);

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    COUCHDB_URL: couch.url,
    DYNAMODB_ENDPOINT_URL: dynamo.url,
    DYNAMODB_REGION: 'us-east-1',
    // Dummy keys (DynamoDB Local accepts any letters and digits). Not plain 'demo': the CLI masks
    // configured secrets wherever they appear, and would turn demo-output/ into ***-output/.
    AWS_ACCESS_KEY_ID: 'DEMOACCESSKEYID',
    AWS_SECRET_ACCESS_KEY: 'DemoSecretAccessKey0000',
  };
  // The fresh servers have no users: credentials meant for another store must not reach them.
  for (const name of ['COUCHDB_USER', 'COUCHDB_PASSWORD', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_REGION', 'AWS_DEFAULT_REGION']) delete env[name];
  console.log(`demo: environment COUCHDB_URL=${couch.url} DYNAMODB_ENDPOINT_URL=${dynamo.url} DYNAMODB_REGION=us-east-1 (dummy AWS keys)`);

  rmSync(join(root, output), { force: true });
  mkdirSync(join(root, dirname(output)), { recursive: true });

  for (const [i, args] of steps.entries()) {
    console.log(`\n[${i + 1}/${steps.length}] $ gofannon-etl ${args.join(' ')}`);
    const code = await run(args, env);
    if (interrupted) return 130;
    if (code !== 0) {
      process.stderr.write(`\ndemo: step ${i + 1} failed with exit code ${code}\n`);
      return code;
    }
  }
  console.log(`\ndemo: ${sample} went file -> CouchDB -> DynamoDB -> ${output} and came back identical.`);
  return 0;
}

let exitCode = 1;
try {
  exitCode = await main();
} catch (e) {
  process.stderr.write(`demo: ${e instanceof Error ? e.message : String(e)}\n`);
} finally {
  if (launching) console.log('demo: stopping the servers…');
  await stopServers();
}
if (launching) console.log(`demo: ${exitCode === 0 ? 'done' : interrupted ? 'interrupted' : `failed (exit ${exitCode})`} in ${seconds()}`);
process.exit(exitCode);
