/**
 * DynamoDB pieces that need no server: retries of UnprocessedItems and throttling through a fake
 * narrow client, number rules, configuration and redaction.
 */
import type { BatchWriteItemCommandInput, WriteRequest } from '@aws-sdk/client-dynamodb';
import { spawnSync } from 'node:child_process';
import { describe, expect, test } from 'vitest';
import { batchDelete, batchPut } from '../src/stores/dynamodb/batch-write.js';
import type { DynamoApi } from '../src/stores/dynamodb/client.js';
import { labelOf, resolveDynamoConfig, streamsEndpoint } from '../src/stores/dynamodb/config.js';
import { toItem } from '../src/stores/dynamodb/marshal.js';
import { describeTable } from '../src/stores/dynamodb/tables.js';
import { docFromItem, fromItem } from '../src/formats/dynamodb-json.js';
import { decimalShape, numberProblem } from '../src/stores/dynamodb/numbers.js';
import { ExactNumber } from '../src/formats/exact-number.js';
import { redact } from '../src/util/redact.js';
import type { Doc } from '../src/types.js';

type BatchAnswer = (input: BatchWriteItemCommandInput, call: number) => Awaited<ReturnType<DynamoApi['batchWrite']>>;

/** Only batchWrite is used by batchPut; the rest refuse, so an unexpected call shows. */
function fakeApi(answer: BatchAnswer): DynamoApi & { calls: string[][] } {
  const calls: string[][] = [];
  const unused = () => Promise.reject(new Error('not used'));
  return {
    where: '127.0.0.1:1',
    lookedAt: 'http://127.0.0.1:1, region us-east-1, access key id …ocal',
    label: 'dynamodb://127.0.0.1:1',
    identity: 'dynamodb:http://127.0.0.1:1:',
    tablePrefix: '',
    calls,
    batchWrite: async (input) => {
      calls.push(input.RequestItems!.t!.map((r) => (r.PutRequest?.Item ?? r.DeleteRequest!.Key!)._id!.S!));
      return answer(input, calls.length);
    },
    putItem: unused,
    scan: unused,
    describeTable: unused,
    createTable: unused,
    listTables: unused,
    updateTable: unused,
    streams: unused,
    close: () => {},
  };
}

const policy = (retries: number) => ({ retries, minDelayMs: 1, maxDelayMs: 2, signal: new AbortController().signal });
const docs = (n: number): Doc[] => Array.from({ length: n }, (_, i) => ({ _id: `d${i}` }));
const serviceError = (name: string, status: number) => Object.assign(new Error('it happened'), { name, $metadata: { httpStatusCode: status } });

describe('batchPut', () => {
  test('retries only the UnprocessedItems until written', async () => {
    const api = fakeApi((input, call) => {
      const requests = input.RequestItems!.t!;
      // First call leaves the last 10 unprocessed, second the last 3, third takes everything.
      const left = call === 1 ? requests.slice(15) : call === 2 ? requests.slice(7) : [];
      return { UnprocessedItems: left.length ? { t: left } : ({} as Record<string, WriteRequest[]>) };
    });
    const outcomes = await batchPut(api, 't', docs(25), policy(5));
    expect(outcomes).toEqual(docs(25).map(() => ({ status: 'written' })));
    expect(api.calls.map((c) => c.length)).toEqual([25, 10, 3]);
    expect(api.calls[2]).toEqual(['d22', 'd23', 'd24']);
  });

  test('after the retry budget the still-pending documents fail with the reason; the others are written', async () => {
    const api = fakeApi((input) => ({ UnprocessedItems: { t: input.RequestItems!.t!.filter((r) => r.PutRequest!.Item!._id!.S === 'd3') } }));
    const outcomes = await batchPut(api, 't', docs(5), policy(2));
    expect(api.calls).toHaveLength(3);
    expect(outcomes.filter((o) => o.status === 'written')).toHaveLength(4);
    expect(outcomes[3]).toEqual({ status: 'failed', reason: 'unprocessed after 3 attempts: 1 items left unprocessed (throttled)' });
  });

  test('throttling and 5xx errors are retried; a spent budget fails the batch, not the run', async () => {
    const flaky = fakeApi((_, call) => {
      if (call === 1) throw serviceError('ProvisionedThroughputExceededException', 400);
      if (call === 2) throw serviceError('InternalServerError', 500);
      return {};
    });
    expect(await batchPut(flaky, 't', docs(2), policy(3))).toEqual([{ status: 'written' }, { status: 'written' }]);

    const down = fakeApi(() => {
      throw serviceError('ThrottlingException', 400);
    });
    const outcomes = await batchPut(down, 't', docs(2), policy(1));
    expect(outcomes[0]).toEqual({ status: 'failed', reason: 'unprocessed after 2 attempts: ThrottlingException: it happened' });
  });

  test('an error of the whole call stops the run with one line naming the endpoint', async () => {
    const api = fakeApi(() => {
      throw serviceError('ResourceNotFoundException', 400);
    });
    await expect(batchPut(api, 't', docs(2), policy(3))).rejects.toMatchObject({
      kind: 'fatal',
      message: 'DynamoDB at 127.0.0.1:1: writing to table t failed: ResourceNotFoundException: it happened',
    });
    expect(api.calls).toHaveLength(1);
  });

  test('duplicates in one call: only the last of each _id is sent', async () => {
    const api = fakeApi(() => ({}));
    const outcomes = await batchPut(api, 't', [{ _id: 'a', v: 1 }, { _id: 'b' }, { _id: 'a', v: 2 }], policy(0));
    expect(outcomes).toHaveLength(3);
    expect(api.calls).toEqual([['b', 'a']]);
  });

  test('more than 25 documents go as several calls of at most 25', async () => {
    const api = fakeApi(() => ({}));
    await batchPut(api, 't', docs(60), policy(0));
    expect(api.calls.map((c) => c.length).sort()).toEqual([10, 25, 25]);
  });
});

describe('batchDelete', () => {
  test('25 deletes a call; only the unprocessed ones are sent again', async () => {
    // DynamoDB hands back d3 and d27 once each, unprocessed.
    const leaveOnce = new Set(['d3', 'd27']);
    const api = fakeApi((input) => {
      const requests = input.RequestItems!.t!;
      expect(requests.every((r) => r.DeleteRequest && !r.PutRequest)).toBe(true);
      return { UnprocessedItems: { t: requests.filter((r) => leaveOnce.delete(r.DeleteRequest!.Key!._id!.S!)) } };
    });
    const ids = Array.from({ length: 30 }, (_, i) => `d${i}`);
    const outcomes = await batchDelete(api, 't', ids, policy(3));
    expect(outcomes).toEqual(ids.map(() => ({ status: 'written' })));
    expect(api.calls.map((c) => c.length).sort((a, b) => a - b)).toEqual([1, 1, 5, 25]);
    expect(api.calls.filter((c) => c.length === 1).flat().sort()).toEqual(['d27', 'd3']);
  });

  test('one _id twice in a call is sent once; the budget spent fails only what is left', async () => {
    const api = fakeApi((input) => ({ UnprocessedItems: { t: input.RequestItems!.t!.filter((r) => r.DeleteRequest!.Key!._id!.S === 'b') } }));
    const outcomes = await batchDelete(api, 't', ['a', 'b', 'a'], policy(1));
    expect(api.calls).toEqual([['b', 'a'], ['b']]);
    expect(outcomes).toEqual([{ status: 'written' }, { status: 'failed', reason: 'unprocessed after 2 attempts: 1 items left unprocessed (throttled)' }, { status: 'written' }]);
  });
});

describe('table calls', () => {
  /** A client whose DescribeTable answers with `answers` in turn (an Error is thrown), counting the calls. */
  function describing(answers: (Error | object)[]): DynamoApi & { calls: string[][] } {
    const api = fakeApi(() => ({}));
    let call = 0;
    api.describeTable = async () => {
      const answer = answers[Math.min(call++, answers.length - 1)]!;
      api.calls.push(['DescribeTable']);
      if (answer instanceof Error) throw answer;
      return answer;
    };
    return api;
  }

  test('ride out throttling, 5xx and dropped connections under the run\'s retries', async () => {
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    const api = describing([serviceError('InternalServerError', 500), serviceError('ThrottlingException', 400), reset, { Table: { TableName: 't', TableStatus: 'ACTIVE' } }]);
    expect(await describeTable(api, 't', 3)).toMatchObject({ TableName: 't' });
    expect(api.calls).toHaveLength(4);
    // With one retry fewer, the same faults end the call, named.
    await expect(describeTable(describing([serviceError('InternalServerError', 500), serviceError('ThrottlingException', 400), reset]), 't', 2)).rejects.toThrow(/describing table t failed/);
  });

  test('an endpoint nothing answers on fails at once, not after the whole budget', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    const api = describing([refused]);
    await expect(describeTable(api, 't', 8)).rejects.toThrow(/DynamoDB at 127\.0\.0\.1:1: describing table t failed: connect ECONNREFUSED/);
    expect(api.calls).toHaveLength(1);
  });
});

describe('numbers', () => {
  test('shape and limits follow DynamoDB (leading and trailing zeros do not count)', () => {
    expect(decimalShape('0.00120')).toEqual({ significant: '12', exponent: -3 });
    expect(decimalShape('1e+21')).toEqual({ significant: '1', exponent: 21 });
    expect(decimalShape('-0')).toEqual({ significant: '', exponent: 0 });
    expect(numberProblem('1E-130')).toBeUndefined();
    expect(numberProblem('9.99E+125')).toBeUndefined();
    expect(numberProblem('1e126')).toMatch(/outside/);
    expect(numberProblem('0.9e-130')).toMatch(/outside/);
    expect(numberProblem('123456789012345678901234567890123456780000')).toBeUndefined();
    expect(numberProblem('1234567890123456789012345678901234567891')).toMatch(/40 significant digits/);
  });

  test('marshalling keeps number text and types; nothing becomes a string', () => {
    const doc: Doc = { _id: 'x', a: 1.5, b: new ExactNumber('9007199254740993'), c: [null, true, ''], d: {}, e: 1e21 };
    const item = toItem(doc);
    expect(item).toEqual({
      _id: { S: 'x' },
      a: { N: '1.5' },
      b: { N: '9007199254740993' },
      c: { L: [{ NULL: true }, { BOOL: true }, { S: '' }] },
      d: { M: {} },
      e: { N: '1e+21' },
    });
    expect(fromItem(item)).toEqual({ ...doc, e: 1e21 });
  });
});

describe('configuration', () => {
  const uri = (rest: string) => ({ scheme: 'dynamodb', rest, raw: `dynamodb:${rest}` });

  test('dynamodb://host:port is a plain-http endpoint; keys and region are left to the SDK chains, never invented', () => {
    const config = resolveDynamoConfig(uri('//127.0.0.1:8000'), { env: {} });
    expect(config).toMatchObject({ endpoint: 'http://127.0.0.1:8000', where: '127.0.0.1:8000' });
    expect(config.region).toBeUndefined();
    expect(config.credentials).toBeUndefined();
    expect(labelOf(config)).toBe('dynamodb://127.0.0.1:8000');
  });

  test('region: DYNAMODB_REGION, then AWS_REGION, then AWS_DEFAULT_REGION; the profile from AWS_PROFILE', () => {
    const all = { DYNAMODB_REGION: 'eu-west-1', AWS_REGION: 'eu-west-2', AWS_DEFAULT_REGION: 'eu-west-3', AWS_PROFILE: 'gofannon' };
    expect(resolveDynamoConfig(uri(''), { env: all })).toMatchObject({ region: 'eu-west-1', profile: 'gofannon' });
    expect(resolveDynamoConfig(uri(''), { env: { ...all, DYNAMODB_REGION: '' } }).region).toBe('eu-west-2');
    expect(resolveDynamoConfig(uri(''), { env: { AWS_DEFAULT_REGION: 'eu-west-3' } }).region).toBe('eu-west-3');
  });

  test('static keys only when both key variables are set', () => {
    expect(resolveDynamoConfig(uri('//127.0.0.1:8000'), { env: { AWS_ACCESS_KEY_ID: 'AKIAONLY' } }).credentials).toBeUndefined();
  });

  test('the app\'s variables are honoured and the secret key is registered for redaction', () => {
    const env = { DYNAMODB_ENDPOINT_URL: 'https://dynamo.internal:443', DYNAMODB_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'very-secret-key', AWS_SESSION_TOKEN: 'session-token-x' };
    const config = resolveDynamoConfig(uri(''), { env, tablePrefix: 'prod_' });
    expect(config).toMatchObject({ endpoint: 'https://dynamo.internal:443', region: 'eu-west-1', tablePrefix: 'prod_' });
    expect(config.credentials).toEqual({ accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'very-secret-key', sessionToken: 'session-token-x' });
    expect(labelOf(config)).not.toMatch(/secret|token/);
    expect(redact('failed with very-secret-key and session-token-x')).toBe('failed with *** and ***');
  });

  test('without an endpoint, AWS itself through the SDK\'s credential chain', () => {
    const config = resolveDynamoConfig(uri(''), { env: { DYNAMODB_REGION: 'us-west-2' } });
    expect(config.endpoint).toBeUndefined();
    expect(config.credentials).toBeUndefined();
    expect(labelOf(config)).toBe('dynamodb (region us-west-2)');
  });

  test('a URI it cannot read is a usage error', () => {
    expect(() => resolveDynamoConfig(uri('tables'), { env: {} })).toThrow(/use dynamodb or dynamodb:\/\/host:port/);
  });
});

describe('output', () => {
  test('documents read back have _id first', () => {
    expect(Object.keys(docFromItem({ x: { N: '1' }, _id: { S: 'a' }, y: { S: '' } }))).toEqual(['_id', 'x', 'y']);
  });

  test("the SDK's Node-version notice does not reach stderr; a real error still does", () => {
    const env = { ...process.env };
    delete env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
    const script = `
      const { openDynamoApi } = await import('./src/stores/dynamodb/client.ts');
      const api = await openDynamoApi({ where: '127.0.0.1:1', region: 'us-east-1', tablePrefix: '', endpoint: 'http://127.0.0.1:1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }, () => {});
      await api.listTables({}).catch((e) => console.error('real error:', e.code));
      api.close();`;
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env, encoding: 'utf8', cwd: new URL('..', import.meta.url).pathname });
    expect(run.stderr).not.toMatch(/NodeVersionSupportWarning|Warning/);
    expect(run.stderr.trim()).toBe('real error: ECONNREFUSED');
  });
});

describe('the Streams endpoint', () => {
  test('AWS serves Streams on its own host; emulators on the tables endpoint; no endpoint stays the SDK\'s', () => {
    expect(streamsEndpoint('https://dynamodb.eu-west-1.amazonaws.com')).toBe('https://streams.dynamodb.eu-west-1.amazonaws.com');
    expect(streamsEndpoint('https://dynamodb-fips.us-east-1.amazonaws.com/')).toBe('https://streams.dynamodb-fips.us-east-1.amazonaws.com');
    expect(streamsEndpoint('https://dynamodb.cn-north-1.amazonaws.com.cn')).toBe('https://streams.dynamodb.cn-north-1.amazonaws.com.cn');
    expect(streamsEndpoint('http://127.0.0.1:8000')).toBe('http://127.0.0.1:8000');
    expect(streamsEndpoint('http://localstack:4566')).toBe('http://localstack:4566');
    expect(streamsEndpoint(undefined)).toBeUndefined();
  });
});
