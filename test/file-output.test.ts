/**
 * Writing export bytes when the stream under them fails: the error reaches the run as one fatal
 * line naming the output, whether it comes while waiting for `drain` or while ending, never a hang.
 */
import { PassThrough, Writable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { openStreamOutput } from '../src/stores/file/output.js';

/** Accepts `accept` writes (answering "full" to each, so the writer waits for drain), then fails. */
function failingStream(accept: number, failOnEnd = false): Writable {
  let writes = 0;
  return new Writable({
    highWaterMark: 1,
    write(_chunk, _encoding, done) {
      writes++;
      setImmediate(() => done(writes > accept ? new Error('disk on fire') : undefined));
    },
    final(done) {
      done(failOnEnd ? new Error('cannot close') : undefined);
    },
  });
}

const owned = { name: 'stdout', owns: true, gzip: false };

describe('stream output', () => {
  test('a stream that fails while the writer waits for drain rejects the write with the output named', async () => {
    const out = openStreamOutput(failingStream(2), owned);
    await out.write('a');
    await out.write('b');
    await expect(out.write('c')).rejects.toMatchObject({ kind: 'fatal', code: 'write-failed', message: 'stdout: disk on fire' });
    await expect(out.write('d')).rejects.toMatchObject({ code: 'write-failed' });
  });

  test('a stream that fails while ending rejects the close', async () => {
    const out = openStreamOutput(failingStream(10, true), owned);
    await out.write('a');
    await expect(out.close(true)).rejects.toThrow('cannot close');
  });

  test('a healthy stream gets every byte, in order, and is ended', async () => {
    const chunks: string[] = [];
    const target = new Writable({ highWaterMark: 1, write: (chunk, _e, done) => void (chunks.push(String(chunk)), setImmediate(done)) });
    const out = openStreamOutput(target, owned);
    for (const text of ['x', 'y', 'z']) await out.write(text);
    await out.close(true);
    expect(chunks.join('')).toBe('xyz');
    expect(target.writableFinished).toBe(true);
  });

  test('a stream the run owns is destroyed, never ended, when the run did not complete', async () => {
    const target = new PassThrough();
    const out = openStreamOutput(target, owned);
    await out.write('{"data": {');
    await out.close(false);
    expect(target.destroyed).toBe(true);
    expect(target.writableEnded).toBe(false);
  });

  test('stdout (not owned) is flushed, not ended; an owned stream may be gzipped', async () => {
    const stdout = new PassThrough();
    const plain = openStreamOutput(stdout, { name: 'stdout', owns: false, gzip: false });
    await plain.write('x');
    await plain.close(true);
    expect(stdout.writableEnded).toBe(false);
    expect(stdout.read()!.toString()).toBe('x');

    const target = new PassThrough();
    const parts: Buffer[] = [];
    target.on('data', (b: Buffer) => parts.push(b));
    const zipped = openStreamOutput(target, { ...owned, gzip: true });
    await zipped.write('hello ');
    await zipped.write('world');
    await zipped.close(true);
    expect(target.writableFinished).toBe(true);
    expect(gunzipSync(Buffer.concat(parts)).toString()).toBe('hello world');
  });
});
