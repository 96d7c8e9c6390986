/**
 * Writing a change log (`--follow` into a file): in place, never through a temp file, and each
 * write in the file before it resolves, so the file is a usable log while the run goes on (`tail
 * -f` it) and a killed run loses nothing it acknowledged. Gzipped, every write is a gzip member of
 * its own (gzip readers, ours and `zcat`, take concatenated members), so the file is whole gzip
 * after every write, not only at the end.
 *
 * A resumed run appends. A kill can leave the last line cut off; it was never acknowledged (the
 * resume writes it again), so it is cut away first and a line says so. A gzipped log cut off the
 * same way cannot be mended in place (a member's end cannot be found without inflating all of it):
 * resuming into it is refused, saying how to go on.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { createGunzip, gzip } from 'node:zlib';
import { fatalError, usageError } from '../../errors.js';
import { type FileOutput, isSpecialFile, type Output, streamWriter } from './output.js';

const gzipBytes = promisify(gzip);

export interface ChangeLogOptions {
  gzip: boolean;
  /** Continue the log at the path (a resumed run); otherwise it starts empty. */
  append: boolean;
  warn: (message: string) => void;
}

/** Where a log's bytes go, each append complete before it resolves. */
interface Appender {
  append(bytes: Buffer): Promise<void>;
  close(complete: boolean): Promise<void>;
}

export async function openChangeLog(output: FileOutput, options: ChangeLogOptions): Promise<Output> {
  const target = 'path' in output && !(await isSpecialFile(output.path)) ? await openLogFile(output.path, options) : logStream(output);
  return {
    write: async (text) => target.append(options.gzip ? await gzipBytes(text) : Buffer.from(text)),
    close: (complete) => target.close(complete),
  };
}

/** A log file at its own name, mode 0600; appended to after its cut-off last line, if any, is cut away. */
async function openLogFile(path: string, options: ChangeLogOptions): Promise<Appender> {
  if (options.append && options.gzip) await assertWholeGzip(path);
  let handle: FileHandle;
  try {
    handle = await open(path, options.append ? 'a+' : 'w', 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw usageError('file-not-found', `${path}: the directory does not exist`, error);
    if (code === 'EACCES' || code === 'EROFS') throw usageError('file-unwritable', `${path}: cannot write there (${code})`, error);
    throw error;
  }
  // An existing file keeps its mode when opened; a log holds users' API keys like any export.
  await handle.chmod(0o600);
  if (options.append && !options.gzip) {
    const cut = await cutUnfinishedLine(handle);
    if (cut > 0) options.warn(`${path}: cut away the last ${cut} bytes, a line the stopped run had not finished; the resumed run writes it again`);
  }
  const failed = (error: unknown) => fatalError('write-failed', `${path}: ${(error as Error).message}`, error);
  return {
    async append(bytes) {
      // Opened for appending: every write lands at the end, whole (FileHandle.appendFile loops over short writes).
      await handle.appendFile(bytes).catch((error) => Promise.reject(failed(error)));
    },
    // Whatever the ending, every line written is a change that happened: the log stays.
    async close() {
      try {
        await handle.datasync();
      } finally {
        await handle.close();
      }
    },
  };
}

/** Truncates the file after its last newline; answers how many bytes that cut (0 when it ends with one, or is empty). */
async function cutUnfinishedLine(handle: FileHandle): Promise<number> {
  const { size } = await handle.stat();
  const block = Buffer.alloc(64 * 1024);
  let end = size;
  while (end > 0) {
    const start = Math.max(0, end - block.length);
    const { bytesRead } = await handle.read(block, 0, end - start, start);
    const newline = block.subarray(0, bytesRead).lastIndexOf(0x0a);
    if (newline >= 0) {
      const keep = start + newline + 1;
      if (keep < size) await handle.truncate(keep);
      return size - keep;
    }
    end = start;
  }
  if (size > 0) await handle.truncate(0);
  return size;
}

/** A gzipped log must inflate to its end before more members go after it. A missing file is a new log. */
async function assertWholeGzip(path: string): Promise<void> {
  try {
    await pipeline(createReadStream(path), createGunzip(), new Writable({ write: (_chunk, _encoding, done) => done() }));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    throw usageError(
      'not-resumable',
      `${path}: the gzipped change log was cut off (${(error as Error).message}) and cannot be appended to; move it aside (zcat recovers its lines) and resume again: a new log starts at the checkpoint`,
      error,
    );
  }
}

/** A log into a stream (stdout, a FIFO, a caller's stream): each write flushed through before it resolves. */
function logStream(output: FileOutput): Appender {
  const { stream, name, owns } = 'stream' in output ? output : { stream: createWriteStream(output.path), name: output.path, owns: true };
  const writer = streamWriter(stream, name);
  return {
    async append(bytes) {
      await writer.write(bytes);
      await writer.flush();
    },
    async close(complete) {
      if (complete) return owns ? writer.end() : writer.flush();
      // As for an export: whatever reads a stream the run owns never sees an end that looks whole.
      if (owns) stream.destroy();
    },
  };
}
