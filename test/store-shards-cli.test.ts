/**
 * Shards of database sources through the built CLI, as a job array runs them: COUNT processes
 * started at the same time with the same command line and their own `--shard k/COUNT` read every
 * document exactly once (none empty); a shard SIGKILLed mid-way and rerun with its index and
 * --resume completes, and the whole target verifies identical. The stores are configured as an
 * operator's are: DYNAMODB_ENDPOINT_URL, COUCHDB_URL with COUCHDB_USER/PASSWORD, GOOGLE_CLOUD_PROJECT
 * with FIRESTORE_EMULATOR_HOST.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, test } from 'vitest';
import type { CheckpointData } from '../src/pipeline/checkpoint.js';
import couchdbSink from '../src/sinks/couchdb.js';
import dynamodbSink from '../src/sinks/dynamodb.js';
import firestoreSink from '../src/sinks/firestore.js';
import type { Doc, RunReport, Sink } from '../src/types.js';
import { uniquePrefix } from './corpus.js';
import { cleanEnv, gateTransform, spawnCli, type CliResult } from './generated-export.js';
import { testAdapterOptions } from './helpers.js';
import { testCouchAdmin } from './servers/couchdb.js';
import { gofannonIds } from './shard-ids.js';

const dir = mkdtempSync(join(tmpdir(), 'store-shards-cli-'));
writeFileSync(join(dir, 'gate.mjs'), gateTransform);

const dynamoUrl = inject('dynamodbUrl');
const couchUrl = inject('couchdbUrl');
const firestoreProject = `etl-shards-cli-${uniquePrefix()}`;

interface Store {
  scheme: string;
  env: NodeJS.ProcessEnv;
  sink(): Promise<Sink>;
  /** Ids in the order they are written (the emulator streams in that order, and resuming relies on id order). */
  order?: (ids: string[]) => string[];
}

const stores: Record<string, Store> = {
  dynamodb: {
    scheme: 'dynamodb',
    env: { DYNAMODB_ENDPOINT_URL: dynamoUrl },
    sink: async () => dynamodbSink({ scheme: 'dynamodb', rest: dynamoUrl.replace(/^http:/, ''), raw: dynamoUrl.replace(/^http:/, 'dynamodb:') }, testAdapterOptions()),
  },
  couchdb: {
    scheme: 'couchdb',
    env: { COUCHDB_URL: couchUrl, COUCHDB_USER: testCouchAdmin.user, COUCHDB_PASSWORD: testCouchAdmin.password },
    sink: async () =>
      couchdbSink({ scheme: 'couchdb', rest: '', raw: 'couchdb' }, testAdapterOptions({ env: { COUCHDB_URL: couchUrl, COUCHDB_USER: testCouchAdmin.user, COUCHDB_PASSWORD: testCouchAdmin.password } })),
  },
  firestore: {
    scheme: 'firestore',
    env: { FIRESTORE_EMULATOR_HOST: inject('firestoreHost'), GOOGLE_CLOUD_PROJECT: firestoreProject },
    sink: async () => firestoreSink({ scheme: 'firestore', rest: '', raw: 'firestore' }, testAdapterOptions({ env: { FIRESTORE_EMULATOR_HOST: inject('firestoreHost'), GOOGLE_CLOUD_PROJECT: firestoreProject } })),
    order: (ids) => [...ids].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
  },
};

/** Writes two collections of Gofannon-like documents (UUID agents, e-mail users); answers `collection/_id` of each. */
async function seed(store: Store, prefix: string): Promise<{ collections: string[]; keys: string[] }> {
  const sink = await store.sink();
  const keys: string[] = [];
  const ids = gofannonIds(900);
  const groups = { [`${prefix}_agents`]: ids.filter((id) => !id.includes('@')), [`${prefix}_users`]: ids.filter((id) => id.includes('@')) };
  for (const [collection, all] of Object.entries(groups)) {
    await sink.prepare(collection);
    const ordered = store.order ? store.order(all) : all;
    for (let i = 0; i < ordered.length; i += 100) {
      const docs: Doc[] = ordered.slice(i, i + 100).map((_id, n) => ({ _id, n: i + n, name: `é ${i + n}`, nested: { list: [i, { k: String(n) }] } }));
      const outcomes = await sink.write(collection, docs, new AbortController().signal);
      expect(outcomes.every((o) => o.status === 'written')).toBe(true);
    }
    keys.push(...ordered.map((id) => `${collection}/${id}`));
  }
  await sink.close(true);
  return { collections: Object.keys(groups), keys };
}

/** Runs the built CLI in `dir`; `onStderr` sees stderr as it grows (to stop the process at a gate). */
function cli(args: string[], env: NodeJS.ProcessEnv, onStderr?: (stderr: string, kill: (signal: NodeJS.Signals) => void) => void): Promise<CliResult> {
  const { child, done } = spawnCli(args, env, dir);
  let stderr = '';
  child.stderr!.on('data', (b) => {
    stderr += b;
    onStderr?.(stderr, (signal) => void (child.killed || child.kill(signal)));
  });
  return done;
}

/** `collection/_id` of every document in an NDJSON file the CLI wrote. */
function keysIn(file: string): string[] {
  return readFileSync(join(dir, file), 'utf8')
    .split('\n')
    .filter((line) => line.includes('"doc"'))
    .map((line) => {
      const { collection, doc } = JSON.parse(line) as { collection: string; doc: { _id: string } };
      return `${collection}/${doc._id}`;
    });
}

function writtenIn(file: string): number {
  try {
    const checkpoint = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CheckpointData;
    return Object.values(checkpoint.stats).reduce((n, s) => n + s.written, 0);
  } catch {
    return 0;
  }
}

for (const [name, store] of Object.entries(stores)) {
  describe(`${name} shards through the CLI`, () => {
    const env = cleanEnv(store.env);
    let seeded: ReturnType<typeof seed> | undefined;
    const data = () => (seeded ??= seed(store, uniquePrefix()));

    test.each([1, 3, 4])('COUNT %i processes at once read every document exactly once, none empty', async (count) => {
      const { collections, keys } = await data();
      const out = `${name}-${count}`;
      const args = (index: number) => ['--from', store.scheme, '--to', `file:${out}.ndjson`, '--collections', collections.join(','), '--shard', `${index}/${count}`, '--quiet'];
      const results = await Promise.all(Array.from({ length: count }, (_, index) => cli(args(index), env)));
      results.forEach((r, index) => expect(r.code, `shard ${index}/${count}: ${r.stderr}`).toBe(0));
      // The store's own split, not the hash split's whole read of every document (on the emulator, one line says what it does instead).
      for (const r of results) expect(r.stderr).not.toContain('no native split point');
      if (name === 'firestore' && count > 1) expect(results[0]!.stderr).toContain('ignores query cursors (as the community emulator does): shard 0/');
      const shares = Array.from({ length: count }, (_, index) => keysIn(`${out}.shard-${index}-of-${count}.ndjson`));
      for (const share of shares) expect(share.length).toBeGreaterThan(keys.length / count / 2);
      expect(shares.flat().sort()).toEqual([...keys].sort());
    });

    test('a shard SIGKILLed mid-way and rerun with its index and --resume completes: the whole target verifies identical', async () => {
      const { collections, keys } = await data();
      const target = `${uniquePrefix()}_`;
      const checkpoint = `${target}run.ckpt`;
      // Into DynamoDB under a table prefix; from DynamoDB (whose tables the prefix would rename too), into CouchDB.
      const into = name === 'dynamodb' ? ['--to', 'couchdb'] : ['--to', 'dynamodb', '--table-prefix', target];
      const args = (index: number) => [
        '--from', store.scheme, ...into, '--collections', collections.join(','),
        '--checkpoint', checkpoint, '--report', `${target}report.json`, '--batch-size', '25', '--transform', './gate.mjs', '--quiet', '--shard', `${index}/3`,
        ...(name === 'dynamodb' ? ['--segments', '2'] : []),
      ];
      const env = cleanEnv({ ...store.env, ...stores.dynamodb!.env, ...stores.couchdb!.env });
      const mine = `${target}run.shard-1-of-3.ckpt`;
      // Shard 1 stops at its 150th document; once its checkpoint holds what came before, it is killed.
      const killed = cli(args(1), { ...env, GATE_AT: '150' }, (stderr, kill) => {
        if (!stderr.includes('gate reached')) return;
        const poll = () => (writtenIn(mine) > 0 ? kill('SIGKILL') : setTimeout(poll, 20));
        poll();
      });
      const others = await Promise.all([0, 2].map((index) => cli(args(index), env)));
      for (const other of others) expect(other.code, other.stderr).toBe(0);
      expect((await killed).signal).toBe('SIGKILL');
      const before = writtenIn(mine);
      expect(before).toBeGreaterThan(0);
      expect(before).toBeLessThan(150);

      const resumed = await cli([...args(1), '--resume'], env);
      expect(resumed.code, resumed.stderr).toBe(0);
      // The shards' reports add up to the source: no document counted by two shards (the resumed one's covers its earlier run).
      const reports = [0, 1, 2].map((index) => JSON.parse(readFileSync(join(dir, `${target}report.shard-${index}-of-3.json`), 'utf8')) as RunReport);
      expect(reports[1]!.earlier?.written).toBe(before);
      expect(reports.reduce((n, r) => n + r.total.written, 0)).toBe(keys.length);
      const check = await cli(['verify', '--from', store.scheme, ...into, '--collections', collections.join(','), '--transform', './gate.mjs'], env);
      expect(check.code, check.stdout + check.stderr).toBe(0);
      expect(check.stdout).toContain('Identical');
    });
  });
}
