import { describe, expect, test } from 'vitest';
import { ExportScanner, ScanError } from '../src/formats/export-scanner.js';
import { parseJson } from '../src/formats/parse.js';

/** A small deterministic generator, so a failure can be replayed from its seed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state / 0x7fffffff;
  };
}

const pieces = ['"', '\\', '\\\\', '{', '}', '[', ']', ',', ':', 'é', '🤖', '日本', ' ', '\n', 'a', '\u0001', '\\"'];

function value(next: () => number, depth: number): unknown {
  const kind = Math.floor(next() * (depth > 3 ? 5 : 7));
  switch (kind) {
    case 0:
      return Array.from({ length: Math.floor(next() * 6) }, () => pieces[Math.floor(next() * pieces.length)]).join('');
    case 1:
      return [0, -1, 0.5, 1e21, -123456789012345, 3.14159][Math.floor(next() * 6)];
    case 2:
      return [true, false, null][Math.floor(next() * 3)];
    case 3:
      return 'plain';
    case 4:
      return Math.floor(next() * 1000);
    case 5:
      return Array.from({ length: Math.floor(next() * 4) }, () => value(next, depth + 1));
    default:
      return Object.fromEntries(Array.from({ length: Math.floor(next() * 4) }, (_, i) => [`k${i}${pieces[Math.floor(next() * pieces.length)]}`, value(next, depth + 1)]));
  }
}

function scan(bytes: Buffer, sizes: () => number): { collections: string[]; docs: Record<string, unknown[]>; metadata: unknown[]; unsafe: boolean[] } {
  const out = { collections: [] as string[], docs: {} as Record<string, unknown[]>, metadata: [] as unknown[], unsafe: [] as boolean[] };
  let current = '';
  const scanner = new ExportScanner({
    collection(name) {
      out.collections.push(name);
      current = name;
      out.docs[name] = [];
      return true;
    },
    doc(raw, unsafe) {
      out.docs[current]!.push(parseJson(raw.toString('utf8')));
      out.unsafe.push(unsafe);
    },
    unreadable(reason) {
      throw new Error(reason);
    },
    metadata(raw) {
      out.metadata.push(JSON.parse(raw.toString('utf8')));
    },
  });
  for (let at = 0; at < bytes.length; ) {
    const size = Math.max(1, sizes());
    scanner.push(bytes.subarray(at, at + size));
    at += size;
  }
  scanner.end();
  return out;
}

describe('ExportScanner', () => {
  test.each(Array.from({ length: 40 }, (_, i) => i + 1))('splits random exports exactly, whatever the buffer boundaries (seed %i)', (seed) => {
    const next = random(seed);
    const data: Record<string, unknown[]> = {};
    for (let c = 0; c < 3; c++) data[`c${c}${pieces[Math.floor(next() * pieces.length)]}`] = Array.from({ length: Math.floor(next() * 5) }, () => value(next, 0));
    const metadata = { provider: 'x"}', collections: Object.keys(data) };
    const shape = seed % 3 === 0 ? { data, metadata } : seed % 3 === 1 ? { metadata, skip: value(next, 0), data } : { data };
    const bytes = Buffer.from(JSON.stringify(shape, null, seed % 2 ? 2 : undefined));
    const whole = scan(bytes, () => bytes.length);
    const split = scan(bytes, () => Math.floor(next() * 9));
    expect(whole.docs).toEqual(data);
    expect(split.docs).toEqual(data);
    expect(split.collections).toEqual(Object.keys(data));
    expect(split.metadata).toEqual('metadata' in shape ? [metadata] : []);
  });

  test('flags exactly the documents holding a number a double would change', () => {
    const text = '{"data":{"c":[{"a":1.5,"s":"1.0"},{"a":1.0},{"b":[12345678901234567890]},{"c":-0},{"d":123456789012345},"1e5",1e5]}}';
    expect(scan(Buffer.from(text), () => text.length).unsafe).toEqual([false, true, true, true, false, false, true]);
  });

  test('reports structural errors with the absolute byte offset', () => {
    const text = '{"data":{"c":[{"a":1} {"b":2}]}}';
    expect(() => scan(Buffer.from(text), () => 5)).toThrow(new ScanError("expected ',' or ']' after a document, found '{'", 22));
  });
});
