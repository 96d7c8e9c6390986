import { expect, test } from 'vitest';
import { ExactNumber } from '../src/formats/exact-number.js';
import { stringifyExact } from '../src/formats/serialize.js';
import floatToDecimal from '../src/transforms/float-to-decimal.js';
import stripCouchMeta from '../src/transforms/strip-couch-meta.js';

test('strip-couch-meta drops _rev and _attachments and nothing else', () => {
  expect(stripCouchMeta({ _id: 'a', _rev: '1-x', _attachments: { f: {} }, _deleted: false, rev: 1 })).toEqual({ _id: 'a', _deleted: false, rev: 1 });
  expect(stripCouchMeta({ _id: 'b' })).toEqual({ _id: 'b' });
});

test('float-to-decimal turns every fractional number into its shortest exact decimal', () => {
  const doc = floatToDecimal({ _id: 'a', price: 0.1 + 0.2, rate: 0.1, count: 3, tiny: 1e-7, list: [1.5, 2, { deep: -2.25 }], kept: new ExactNumber('1.50') });
  expect(doc).toEqual({
    _id: 'a',
    price: new ExactNumber('0.30000000000000004'),
    rate: new ExactNumber('0.1'),
    count: 3,
    tiny: new ExactNumber('1e-7'),
    list: [new ExactNumber('1.5'), 2, { deep: new ExactNumber('-2.25') }],
    kept: new ExactNumber('1.50'),
  });
  expect(stringifyExact(doc)).toBe('{"_id":"a","price":0.30000000000000004,"rate":0.1,"count":3,"tiny":1e-7,"list":[1.5,2,{"deep":-2.25}],"kept":1.50}');
});

test('plain JSON.stringify of an ExactNumber gives the nearest double, never a marker', () => {
  expect(JSON.stringify({ n: new ExactNumber('9007199254740993') })).toBe('{"n":9007199254740992}');
});
