import { CreateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort, waitFor } from './free-port.js';

export interface RunningServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** The DynamoDB Local jar shipped inside amplify-dynamodb-simulator. */
export function dynamoJarDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('amplify-dynamodb-simulator/package.json')), 'emulator');
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 3000).unref();
  });
}

/** Starts DynamoDB Local (in memory) with Java on a free loopback port. */
export async function startDynamoLocal(): Promise<RunningServer> {
  const dir = dynamoJarDir();
  const port = await freePort();
  // DynamoDB Local writes dynamodb-local-metadata.json into its working directory, even with
  // -disableTelemetry: give it a scratch one, never the repository.
  const cwd = mkdtempSync(join(tmpdir(), 'dynamodb-local-'));
  const child = spawn(
    'java',
    ['-Xmx1g', `-Djava.library.path=${join(dir, 'DynamoDBLocal_lib')}`, '-jar', join(dir, 'DynamoDBLocal.jar'),
      '-inMemory', '-port', String(port), '-disableTelemetry'],
    { cwd, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const stop = async () => {
    await stopChild(child);
    rmSync(cwd, { recursive: true, force: true });
  };
  let stderr = '';
  child.stderr!.on('data', (b) => (stderr += b));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor('DynamoDB Local', async () => {
      if (child.exitCode !== null) throw new Error(`DynamoDB Local exited: ${stderr}`);
      const res = await fetch(url, { method: 'POST', headers: { 'x-amz-target': 'DynamoDB_20120810.ListTables', 'content-type': 'application/x-amz-json-1.0', authorization: 'AWS4-HMAC-SHA256 Credential=local/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=x' }, body: '{}' });
      return res.status < 500;
    });
  } catch (e) {
    await stop();
    throw e;
  }
  return { url, port, stop };
}

export { stopChild };

export type StreamView = 'NEW_IMAGE' | 'NEW_AND_OLD_IMAGES' | 'KEYS_ONLY' | 'OLD_IMAGE';

/**
 * A table keyed by `_id` as our sink creates it, with a stream of this view (what --follow needs
 * of a DynamoDB source), or none: the tests' and benches' one way to make a followable table.
 */
export async function createStreamTable(client: DynamoDBClient, name: string, view?: StreamView): Promise<void> {
  await client.send(new CreateTableCommand({
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST',
    KeySchema: [{ AttributeName: '_id', KeyType: 'HASH' }],
    AttributeDefinitions: [{ AttributeName: '_id', AttributeType: 'S' }],
    ...(view ? { StreamSpecification: { StreamEnabled: true, StreamViewType: view } } : {}),
  }));
}
