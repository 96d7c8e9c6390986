/**
 * A store pointed at another kind of service (a DynamoDB endpoint on CouchDB's port, and the
 * reverse, as happens when two local servers' ports are swapped): one line that asks the right
 * question, exit 3, instead of `UnknownError` or `couch returned 400`.
 */
import { spawnSync } from 'node:child_process';
import { inject, expect, test } from 'vitest';

const bin = new URL('../bin/gofannon-etl.js', import.meta.url).pathname;
const sample = new URL('../examples/sample-backup.json', import.meta.url).pathname;
const env = { ...process.env, CI: 'true', AWS_ACCESS_KEY_ID: 'wrong-service', AWS_SECRET_ACCESS_KEY: 'local', DYNAMODB_REGION: 'us-east-1' };

function run(args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args, '-q'], { env, encoding: 'utf8' });
  return { code: result.status, stderr: result.stderr.trim() };
}

const hostPort = (url: string) => new URL(url).host;

test('a DynamoDB endpoint that answers like CouchDB: is this a DynamoDB endpoint?', () => {
  const couch = hostPort(inject('couchdbUrl'));
  for (const args of [['--from', `file:${sample}`, '--to', `dynamodb://${couch}`], ['--from', `dynamodb://${couch}`, '--to', 'null', '--collections', 'agents']]) {
    const result = run(args);
    expect(result.code).toBe(3);
    expect(result.stderr.split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(`it answered like CouchDB: is ${couch} a DynamoDB endpoint?`);
  }
});

test('a CouchDB URL that answers like DynamoDB: is this a CouchDB server?', () => {
  const dynamo = hostPort(inject('dynamodbUrl'));
  for (const args of [['--from', `file:${sample}`, '--to', `couchdb://${dynamo}`], ['--from', `couchdb://${dynamo}`, '--to', 'null']]) {
    const result = run(args);
    expect(result.code).toBe(3);
    expect(result.stderr.split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(`it answered like an AWS service (DynamoDB?): is ${dynamo} a CouchDB server?`);
  }
});
