/**
 * DynamoDB → another store with --follow through the built CLI, while a separate writer process
 * (the app) inserts, updates and deletes in DynamoDB: the target keeps in step, a SIGKILLed
 * follower resumed with --resume loses nothing and says how many changes it applied twice, and
 * once the writer stops, --until-caught-up --verify finds source and target identical, deletes
 * included. The targets: a second DynamoDB Local (numbers beyond 2^53 go across exactly) and
 * CouchDB. Every wait is a gate on what a process printed or a checkpoint save.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchWriteItemCommand, CreateTableCommand, DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { uniquePrefix } from './corpus.js';
import { cleanEnv, runCli, spawnCli, type CliResult } from './generated-export.js';
import { startDynamoLocal, type RunningServer } from './servers/dynamodb-local.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const dynamoUrl = inject('dynamodbUrl');
const dynamoUri = dynamoUrl.replace(/^http:/, 'dynamodb:');
const couchUri = inject('couchdbAuthUrl').replace(/^http:/, 'couchdb:');
const raw = new DynamoDBClient({ endpoint: dynamoUrl, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
const dir = mkdtempSync(join(tmpdir(), 'dynamodb-follow-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  raw.destroy();
});

/** A transform that passes every document on and says on stderr which writer operation it carries. */
const seenTransform = join(dir, 'seen.mjs');
writeFileSync(seenTransform, `export default function seen(doc) {
  if (typeof doc.op === 'number') process.stderr.write('seen op ' + doc.op + '\\n');
  return doc;
}
`);

/** Output of a process, and a gate that resolves once it holds a line matching `pattern`. */
function watched(child: ChildProcess, stream: 'stdout' | 'stderr') {
  let text = '';
  const waiting: { test: (text: string) => boolean; resolve: () => void }[] = [];
  child[stream]!.on('data', (b) => {
    text += b;
    for (const w of waiting.splice(0)) (w.test(text) ? w.resolve() : waiting.push(w));
  });
  return {
    text: () => text,
    /** Resolves once `test` holds for the output so far; rejects if the process ends first. */
    until: (test: (text: string) => boolean, what: string) =>
      new Promise<void>((resolve, reject) => {
        if (test(text)) return resolve();
        waiting.push({ test, resolve });
        child.once('close', () => (test(text) ? resolve() : reject(new Error(`${what} never came; output:\n${text}`))));
      }),
  };
}

interface SavedFeed {
  feed?: { sent: number; applied: number; position: unknown };
}

/**
 * Resolves once the checkpoint file, as saved, satisfies `test`: a gate on each save (fs.watch),
 * not a poll. Rejects when the process that saves it ends first.
 */
function checkpointUntil(path: string, test: (saved: SavedFeed) => boolean, what: string, saver: ChildProcess): Promise<SavedFeed> {
  return new Promise((resolve, reject) => {
    saver.once('close', () => {
      watcher.close();
      reject(new Error(`${what} never came: the run ended`));
    });
    const check = () => {
      let saved: SavedFeed;
      try {
        saved = JSON.parse(readFileSync(path, 'utf8')) as SavedFeed;
      } catch {
        return; // not written yet, or being replaced
      }
      if (test(saved)) {
        watcher.close();
        resolve(saved);
      }
    };
    const watcher = watch(dir, check);
    watcher.on('error', (error) => reject(new Error(`${what}: ${String(error)}`)));
    check();
  });
}

/** The highest `N` in lines `<prefix> N`. */
function highest(text: string, prefix: string): number {
  let max = -1;
  for (const match of text.matchAll(new RegExp(`^${prefix} (\\d+)$`, 'gm'))) max = Math.max(max, Number(match[1]));
  return max;
}

function startWriter(table: string, smallNumbers: boolean): ChildProcess & { out: ReturnType<typeof watched> } {
  const child = spawn(process.execPath, [new URL('./dynamodb-writer.mjs', import.meta.url).pathname], {
    env: { ...process.env, WRITER_ENDPOINT: dynamoUrl, WRITER_TABLE: table, WRITER_SEED: '7', ...(smallNumbers ? { WRITER_SMALL_NUMBERS: '1' } : {}) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return Object.assign(child, { out: watched(child, 'stdout') });
}

function startFollower(args: string[]) {
  const { child, done } = spawnCli(args, cleanEnv());
  children.push(child);
  return { child, done, err: watched(child, 'stderr') };
}

async function createSeededTable(table: string, count: number): Promise<void> {
  await raw.send(new CreateTableCommand({
    TableName: table,
    BillingMode: 'PAY_PER_REQUEST',
    KeySchema: [{ AttributeName: '_id', KeyType: 'HASH' }],
    AttributeDefinitions: [{ AttributeName: '_id', AttributeType: 'S' }],
  }));
  for (let i = 0; i < count; i += 25) {
    const items = Array.from({ length: Math.min(25, count - i) }, (_, k) => ({ PutRequest: { Item: { _id: { S: `w${String(i + k).padStart(3, '0')}` }, seeded: { BOOL: true } } } }));
    await raw.send(new BatchWriteItemCommand({ RequestItems: { [table]: items } }));
  }
}

/** The second DynamoDB Local, the target of DynamoDB → DynamoDB. */
let target: RunningServer | undefined;
beforeAll(async () => {
  target = await startDynamoLocal();
}, 60_000);
afterAll(() => target?.stop());

interface Target {
  name: string;
  uri: () => string;
  /** pouchdb-server keeps numbers as doubles: the writer's numbers stay below 2^53 for it. */
  smallNumbers: boolean;
}

const targets: Target[] = [
  { name: 'DynamoDB', uri: () => `dynamodb://127.0.0.1:${target!.port}`, smallNumbers: false },
  { name: 'CouchDB', uri: () => couchUri, smallNumbers: true },
];

describe.each(targets)('DynamoDB → $name --follow through the CLI', ({ uri, smallNumbers }) => {
  test('keeps in step with a writer; SIGKILL, --resume: nothing lost, changes applied twice reported and bounded; then identical', async () => {
    // The table is named like the database it becomes in CouchDB (lowercase, a letter first).
    const collection = `${uniquePrefix()}_follow`;
    await createSeededTable(collection, 60);
    const checkpoint = join(dir, `${collection}.ckpt`);
    const args = ['--from', dynamoUri, '--to', uri(), '--collections', collection, '--checkpoint', checkpoint, '--transform', seenTransform, '--batch-size', '10', '--concurrency', '2', '--follow'];

    const writer = startWriter(collection, smallNumbers);
    await writer.out.until((t) => highest(t, 'ops') >= 20, 'the writer\'s first operations');

    // The table has no stream: --enable-stream turns it on, and following begins after the snapshot.
    const first = startFollower([...args, '--enable-stream']);
    // Killed while following, with changes applied and saved past the snapshot.
    await checkpointUntil(checkpoint, (saved) => (saved.feed?.applied ?? 0) >= 30, 'changes applied from the feed', first.child);
    first.child.kill('SIGKILL');
    const killed = await first.done;
    expect(killed.signal).toBe('SIGKILL');
    expect(killed.stderr).toContain(`DynamoDB table ${collection}: enabled a NEW_IMAGE stream for --follow`);
    const saved = JSON.parse(readFileSync(checkpoint, 'utf8')) as Required<SavedFeed>;
    expect(saved.feed.position).not.toBeNull();

    // The app goes on while nobody follows.
    const killedAt = highest(writer.out.text(), 'ops');
    await writer.out.until((t) => highest(t, 'ops') >= killedAt + 40, 'more operations while no one follows');

    const second = startFollower([...args, '--resume']);
    const resumedAt = highest(writer.out.text(), 'ops');
    await second.err.until((t) => highest(t, 'seen op') >= resumedAt + 20, 'changes made after the resume, applied');

    // The app stops writing; the follower is stopped as an operator would, at the cutover.
    writer.kill('SIGTERM');
    await writer.out.until((t) => /^stopped \d+$/m.test(t), 'the writer\'s stop');
    second.child.kill('SIGTERM');
    const stopped = await second.done;
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stdout).toMatch(/^Following: \d+ changes applied in /m);
    // The earlier run's changes in flight past its saved position came again, and no more than those.
    const again = /^At most (\d+) changes? the earlier run may have sent (?:was|were) applied again/m.exec(stopped.stdout);
    const reapplied = again ? Number(again[1]) : 0;
    expect(reapplied).toBeLessThanOrEqual(saved.feed.sent - saved.feed.applied);

    const final: CliResult = await runCli([...args, '--resume', '--until-caught-up', '--verify'], cleanEnv());
    expect(final.code, final.stderr + final.stdout).toBe(0);
    expect(final.stdout).toMatch(/^Following: \d+ changes applied .*caught up with the source\.$/m);
    expect(final.stdout).toContain('Identical:');
    const deletes = Number(new RegExp(`^${collection}(?:\\s+\\d+){5}\\s+(\\d+)$`, 'm').exec(final.stdout)?.[1]);
    // Deletes were applied along the way (a quarter of the writer's operations are deletes).
    expect(deletes).toBeGreaterThan(0);
  }, 120_000);

});

test('a table without a stream: one line with the command that enables it, exit 2, nothing written', async () => {
  const collection = `${uniquePrefix()}_nostream`;
  await createSeededTable(collection, 3);
  const result = await runCli(['--from', dynamoUri, '--to', targets[0]!.uri(), '--collections', collection, '--follow'], cleanEnv());
  expect(result.code, result.stderr).toBe(2);
  expect(result.stderr).toBe(
    `gofannon-etl: DynamoDB table ${collection} has no stream, which --follow reads: enable one with ` +
      `\`aws dynamodb update-table --table-name ${collection} --stream-specification StreamEnabled=true,StreamViewType=NEW_IMAGE\`, or run again with --enable-stream\n`,
  );
  const targetClient = new DynamoDBClient({ endpoint: `http://127.0.0.1:${target!.port}`, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const { TableNames } = await targetClient.send(new ListTablesCommand({}));
  targetClient.destroy();
  expect(TableNames).not.toContain(collection);
});
