import { describe, expect, test } from 'vitest';
import { ExactNumber } from '../src/formats/exact-number.js';
import { JsonSyntaxError, hasUnsafeNumber, parseJson } from '../src/formats/parse.js';
import { stringifyExact } from '../src/formats/serialize.js';

describe('parseJson', () => {
  test('gives plain values when every number survives a double', () => {
    const text = '{"a":[1,-2,0.5,1e-7,"1.0 in a string \\" 1.50",true,false,null],"b":{"c":123456789012345}}';
    expect(hasUnsafeNumber(text)).toBe(false);
    expect(parseJson(text)).toEqual(JSON.parse(text));
  });

  test.each(['9007199254740993', '-9223372036854775808', '0.10000000000000000001', '1.0', '1.50', '1e5', '1e400', '12345678901234567890.12345678901234567890', '-0', '1E+2'])(
    'keeps %s digit for digit',
    (digits) => {
      const value = parseJson(`{"n":${digits},"list":[${digits}]}`) as { n: ExactNumber; list: ExactNumber[] };
      expect(value.n).toBeInstanceOf(ExactNumber);
      expect(value.n.text).toBe(digits);
      expect(stringifyExact(value)).toBe(`{"n":${digits},"list":[${digits}]}`);
    },
  );

  test('parses strings with escapes and unicode exactly in the slow path too', () => {
    const text = '{"s":"tab\\t quote\\" backslash\\\\ \\u00e9 🤖 日本","n":1.0,"empty":{},"arr":[],"nested":[[{"x":null}]]}';
    const value = parseJson(text) as Record<string, unknown>;
    expect(value.s).toBe('tab\t quote" backslash\\ é 🤖 日本');
    expect(value.empty).toEqual({});
    expect(value.nested).toEqual([[{ x: null }]]);
  });

  test('keeps "__proto__" as an own property, never as the prototype', () => {
    const value = parseJson('{"__proto__":{"polluted":1},"n":1.0}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value)).toEqual(['__proto__', 'n']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  test.each([
    ['{"a":1,}', 7],
    ['{"a" 1}', 5],
    ['[1,2', 4],
    ['{"a":"unterminated', 5],
    ['{"a":1.0} x', 10],
    ['{"a":tru}', 5],
    ['', 0],
  ])('reports malformed %j with its position', (text, position) => {
    let error: unknown;
    try {
      parseJson(text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(JsonSyntaxError);
    expect(error).toBeInstanceOf(SyntaxError);
    expect((error as JsonSyntaxError).position).toBe(position);
    expect((error as Error).message).toMatch(/at position \d+/);
  });
});
