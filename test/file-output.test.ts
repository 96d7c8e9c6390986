/**
 * Writing export bytes when the stream under them fails: the error reaches the run as one fatal
 * line naming the output, whether it comes while waiting for `drain` or while ending, never a hang.
 */
import { Writable } from 'node:stream';
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

describe('stream output', () => {
  test('a stream that fails while the writer waits for drain rejects the write with the output named', async () => {
    const out = openStreamOutput(failingStream(2), true);
    await out.write('a');
    await out.write('b');
    await expect(out.write('c')).rejects.toMatchObject({ kind: 'fatal', code: 'write-failed', message: 'stdout: disk on fire' });
    await expect(out.write('d')).rejects.toMatchObject({ code: 'write-failed' });
  });

  test('a stream that fails while ending rejects the close', async () => {
    const out = openStreamOutput(failingStream(10, true), true);
    await out.write('a');
    await expect(out.close(true)).rejects.toThrow('cannot close');
  });

  test('a healthy stream gets every byte, in order, and is ended', async () => {
    const chunks: string[] = [];
    const target = new Writable({ highWaterMark: 1, write: (chunk, _e, done) => void (chunks.push(String(chunk)), setImmediate(done)) });
    const out = openStreamOutput(target, true);
    for (const text of ['x', 'y', 'z']) await out.write(text);
    await out.close(true);
    expect(chunks.join('')).toBe('xyz');
    expect(target.writableFinished).toBe(true);
  });
});
