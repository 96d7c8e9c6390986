/**
 * numbers-from-strings: the numbers export.py wrote as strings from DynamoDB (`default=str`),
 * turned back into numbers in the named fields only.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { isEtlError } from '../src/errors.js';
import { ExactNumber } from '../src/formats/exact-number.js';
import { parseJson } from '../src/formats/parse.js';
import { stringifyExact } from '../src/formats/serialize.js';
import { copyValue } from '../src/stores/memory/store.js';
import { loadTransform } from '../src/transforms/index.js';
import { numbersFromStrings } from '../src/transforms/numbers-from-strings.js';
import type { Doc, JsonValue } from '../src/types.js';

const context = (collection: string) => ({ collection, source: 'file:x.json', target: 'memory' });
const figures = 'users.usageInfo.spendRemaining,users.usageInfo.monthlyAllowance,users.usageInfo.usage[].responseCost,agent_data_store.accessCount';

function user(): Doc {
  return {
    _id: 'github:5821347',
    basicInfo: { displayName: '2025', email: 'ben@example.org' },
    zip: '01234',
    usageInfo: {
      monthlyAllowance: '100',
      spendRemaining: '99.98342000000001',
      usage: [
        { timestamp: '2025-09-18T18:27:57.937788', responseCost: '0.028125', metadata: { promptTokens: '7552' } },
        { timestamp: '2025-09-19T00:01:33.913274', responseCost: '9.5E-5', metadata: null },
      ],
    },
  };
}

describe('numbers-from-strings', () => {
  test('turns the named fields back into numbers, lists element by element, and nothing else', () => {
    const t = numbersFromStrings(figures);
    const doc = t.apply(user(), context('users')) as Doc;
    expect(doc).toEqual({
      _id: 'github:5821347',
      basicInfo: { displayName: '2025', email: 'ben@example.org' },
      zip: '01234',
      usageInfo: {
        monthlyAllowance: 100,
        spendRemaining: 99.98342000000001,
        usage: [
          { timestamp: '2025-09-18T18:27:57.937788', responseCost: 0.028125, metadata: { promptTokens: '7552' } },
          { timestamp: '2025-09-19T00:01:33.913274', responseCost: new ExactNumber('9.5E-5'), metadata: null },
        ],
      },
    });
    // The same fields in another collection are not named, so not touched.
    const other = { _id: 'x', usageInfo: { spendRemaining: '1.5' } };
    expect(t.apply(copyValue(other), context('agents'))).toEqual(other);
  });

  test('keeps every digit: integers beyond 2^53, 20-digit decimals and a float spelled 100.0 come out as written', () => {
    const t = numbersFromStrings('c.a,c.b,c.c,c.d,c.e');
    const doc = t.apply({ _id: '1', a: '12345678901234567890', b: '0.10000000000000000001', c: '100.0', d: '-0', e: '7' }, context('c')) as Doc;
    expect(doc).toEqual({ _id: '1', a: new ExactNumber('12345678901234567890'), b: new ExactNumber('0.10000000000000000001'), c: new ExactNumber('100.0'), d: new ExactNumber('-0'), e: 7 });
    expect(stringifyExact(doc)).toBe('{"_id":"1","a":12345678901234567890,"b":0.10000000000000000001,"c":100.0,"d":-0,"e":7}');
  });

  test('the [] marker is optional, lists of strings are converted where named, and dotted collection names work', () => {
    const doc = { _id: '1', usage: [{ cost: '1.5' }, { cost: '2' }], scores: ['1', '2.5', null] };
    expect(numbersFromStrings('my.table.usage.cost,my.table.scores').apply(copyValue(doc), context('my.table'))).toEqual({ _id: '1', usage: [{ cost: 1.5 }, { cost: 2 }], scores: [1, 2.5, null] });
    expect(numbersFromStrings('my.table.usage[].cost').apply(copyValue(doc), context('my.table'))).toMatchObject({ usage: [{ cost: 1.5 }, { cost: 2 }] });
  });

  test('a field a document lacks, or holding null or a number, is left as it is', () => {
    const t = numbersFromStrings('agents.composerModelConfig.parameters.temperature,agents.count');
    const docs: Doc[] = [
      { _id: 'a', composerModelConfig: { parameters: { reasoning_effort: 'medium' } } },
      { _id: 'b', composerModelConfig: null, count: null },
      { _id: 'c', composerModelConfig: { parameters: { temperature: 0.7 } }, count: 3 },
    ];
    for (const doc of docs) expect(t.apply(copyValue(doc), context('agents'))).toEqual(doc);
  });

  test('a string that is not a number, or another value, fails the document, which stays as it was; the value is not shown', () => {
    const t = numbersFromStrings(figures);
    for (const bad of ['abc', '', ' 1', '1,5', 'NaN', 'Infinity', '0x10', '1.', '+1', 'sk-live-123']) {
      const doc = user();
      (doc.usageInfo as Doc).usage = [{ responseCost: '0.5' }, { responseCost: bad }];
      const before = copyValue(doc);
      let message = '';
      try {
        t.apply(doc, context('users'));
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message, bad).toBe('users.usageInfo.usage[1].responseCost holds a string that is not a number');
      expect(doc, 'nothing converted in a failed document').toEqual(before);
    }
    expect(() => t.apply({ _id: 'x', accessCount: true }, context('agent_data_store'))).toThrow('agent_data_store.accessCount is a boolean, not a number written as a string');
    expect(() => t.apply({ _id: 'x', accessCount: { n: '1' } }, context('agent_data_store'))).toThrow('agent_data_store.accessCount is an object, not a number written as a string');
    expect(() => t.apply({ _id: 'x', usageInfo: 'none' }, context('users'))).toThrow('users.usageInfo is a string, not an object with spendRemaining');
  });

  test('after the run it names the fields it never found', () => {
    const t = numbersFromStrings(`${figures},users.usageInfo.spendRemainig,user.usageInfo.spendRemaining`);
    t.apply(user(), context('users'));
    t.apply({ _id: 'd', accessCount: '4' }, context('agent_data_store'));
    expect(t.finish!()).toEqual([
      'numbers-from-strings: none of 1 documents had users.usageInfo.spendRemainig',
      'numbers-from-strings: no document of the collection in user.usageInfo.spendRemaining came through',
    ]);
  });

  test('is a built-in taking its fields after =; without them, or with a field that is not collection.field, it is a usage error', async () => {
    const loaded = await loadTransform(`numbers-from-strings=${figures}`);
    expect(loaded.name).toBe('numbers-from-strings');
    expect((loaded.apply({ _id: 'd', accessCount: '4' }, context('agent_data_store')) as Doc).accessCount).toBe(4);
    for (const spec of ['numbers-from-strings', 'numbers-from-strings=', 'numbers-from-strings=users', 'numbers-from-strings=users..x', 'numbers-from-strings=.x']) {
      const error = await loadTransform(spec).then(() => undefined, (e: unknown) => e);
      expect(isEtlError(error) && error.kind, spec).toBe('usage');
    }
    await expect(loadTransform('nope')).rejects.toThrow(/built-in \(strip-couch-meta, float-to-decimal, numbers-from-strings=…\)/);
  });
});

describe('numbers-from-strings on a backup export.py made from DynamoDB (the CLI)', () => {
  const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
  const dir = mkdtempSync(join(tmpdir(), 'numbers-from-strings-'));
  const sample = parseJson(readFileSync(join(root, 'examples', 'sample-backup.json'), 'utf8')) as { metadata: Doc; data: Record<string, Doc[]> };

  /** export.py's default=str over boto3's Decimals: every number a string, as DynamoDB normalised it. */
  function stringified(value: JsonValue): JsonValue {
    if (typeof value === 'number' || value instanceof ExactNumber) return String(Number(value));
    if (Array.isArray(value)) return value.map(stringified);
    if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, stringified(v)]));
    return value;
  }

  function run(args: string[]) {
    const r = spawnSync(process.execPath, [join(root, 'bin', 'gofannon-etl.js'), ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, CI: 'true' } });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  test('the named figures come back as the numbers the sample holds, other numeric strings stay strings, a bad one is a dead letter', () => {
    const data = stringified(sample.data as unknown as JsonValue) as Record<string, Doc[]>;
    writeFileSync(join(dir, 'dynamodb-backup.json'), JSON.stringify({ metadata: { ...sample.metadata, provider: 'dynamodb' }, data }, null, 2));
    const result = run(['--from', 'file:dynamodb-backup.json', '--to', 'file:restored.json', '--transform', `numbers-from-strings=${figures}`]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).not.toContain('numbers-from-strings');

    const restored = JSON.parse(readFileSync(join(dir, 'restored.json'), 'utf8')) as { data: Record<string, Doc[]> };
    const original = JSON.parse(readFileSync(join(root, 'examples', 'sample-backup.json'), 'utf8')) as { data: Record<string, Doc[]> };
    for (const [i, u] of restored.data.users!.entries()) {
      const want = original.data.users![i]!.usageInfo as Doc;
      const got = u.usageInfo as Doc;
      expect(got.spendRemaining).toBe(want.spendRemaining);
      expect(got.monthlyAllowance).toBe(want.monthlyAllowance);
      expect((got.usage as Doc[]).map((e) => e.responseCost)).toEqual((want.usage as Doc[]).map((e) => e.responseCost));
      expect(got.allowanceResetDate, 'not named: still a string').toBe(String(want.allowanceResetDate));
    }
    expect(restored.data.agent_data_store!.map((r) => r.accessCount)).toEqual(original.data.agent_data_store!.map((r) => r.accessCount));
    expect(restored.data.agent_data_store!.find((r) => r.key === 'runs')!.value, 'not named: still a string').toBe('1042');

    const misspelt = run(['--from', 'file:dynamodb-backup.json', '--to', 'file:misspelt.json', '--transform', 'numbers-from-strings=users.usageInfo.spendRemainig']);
    expect(misspelt.code).toBe(0);
    expect(misspelt.stderr).toContain('numbers-from-strings: none of 8 documents had users.usageInfo.spendRemainig\n');

    data.agent_data_store![0]!.accessCount = 'fourteen';
    writeFileSync(join(dir, 'bad-backup.json'), JSON.stringify({ data }, null, 2));
    const bad = run(['--from', 'file:bad-backup.json', '--to', 'file:restored-bad.json', '--transform', `numbers-from-strings=${figures}`, '--dead-letter', 'dead.ndjson']);
    expect(bad.code).toBe(1);
    const dead = JSON.parse(readFileSync(join(dir, 'dead.ndjson'), 'utf8')) as { collection: string; _id: string; reason: string };
    expect(dead).toMatchObject({
      collection: 'agent_data_store',
      _id: sample.data.agent_data_store![0]!._id,
      reason: 'transform numbers-from-strings failed: agent_data_store.accessCount holds a string that is not a number',
    });
  });
});
