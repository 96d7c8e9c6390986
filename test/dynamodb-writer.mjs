/**
 * The app, writing: a separate process that inserts, updates and deletes items of one DynamoDB
 * table in a seeded pseudo-random order, one call at a time, until SIGTERM. After each call it
 * prints `ops N` (the tests' gates); on SIGTERM it finishes the call in flight, prints `stopped N`
 * and exits 0.
 *
 * Environment: WRITER_ENDPOINT, WRITER_TABLE, WRITER_IDS (how many distinct _ids, default 40),
 * WRITER_SEED (default 1). Signs as DynamoDB Local's `local` key in us-east-1, like the tests.
 */
import { DeleteItemCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const client = new DynamoDBClient({
  endpoint: process.env.WRITER_ENDPOINT,
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
});
const table = process.env.WRITER_TABLE;
const ids = Number(process.env.WRITER_IDS ?? 40);

// mulberry32: the same seed gives the same operations, so a failure can be replayed.
let seed = Number(process.env.WRITER_SEED ?? 1) >>> 0;
function random() {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

let stopping = false;
process.on('SIGTERM', () => (stopping = true));

let ops = 0;
while (!stopping) {
  const id = `w${String(Math.floor(random() * ids)).padStart(3, '0')}`;
  if (random() < 0.25) {
    await client.send(new DeleteItemCommand({ TableName: table, Key: { _id: { S: id } } }));
  } else {
    // A number beyond 2^53 rides along: the follower must carry it exactly (pouchdb-server cannot, so it stays below there when asked).
    const big = process.env.WRITER_SMALL_NUMBERS ? String(ops) : `9007199254740993${String(ops).padStart(4, '0')}`;
    await client.send(new PutItemCommand({ TableName: table, Item: { _id: { S: id }, op: { N: String(ops) }, big: { N: big }, text: { S: `op ${ops} ✓` } } }));
  }
  ops++;
  process.stdout.write(`ops ${ops}\n`);
}
process.stdout.write(`stopped ${ops}\n`);
client.destroy();
