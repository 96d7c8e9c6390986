/**
 * Writing an export file safely: mode 0600 (exports hold users' API keys), into a temp file in the
 * same directory that becomes the final name only when the run completed (fsync, then rename), so
 * a failed run never leaves a file that looks like a whole backup. Optional gzip on the fly;
 * `write` resolves once the stream accepted the data, so a slow disk slows the run, not memory.
 */
import { once } from 'node:events';
import { close, createWriteStream, fsync, open, rename, unlink, type WriteStream } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import { createGzip } from 'node:zlib';
import { fatalError, usageError } from '../../errors.js';

const openFile = promisify(open);
const fsyncFile = promisify(fsync);
const closeFile = promisify(close);
const renameFile = promisify(rename);
const unlinkFile = promisify(unlink);

export interface Output {
  write(text: string | Uint8Array): Promise<void>;
  /** complete: flush, fsync and rename into place; otherwise remove the temp file. */
  close(complete: boolean): Promise<void>;
}

/** The temp name process `pid` writes `path` under until it is complete. */
export function tempPathOf(path: string, pid: number = process.pid): string {
  return join(dirname(path), `.${basename(path)}.${pid}.tmp`);
}

/** Output to a file path, atomically (see the module comment). */
export async function openFileOutput(path: string, gzip: boolean): Promise<Output> {
  const temp = tempPathOf(path);
  let fd: number;
  try {
    fd = await openFile(temp, 'w', 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw usageError('file-not-found', `${path}: the directory does not exist`, error);
    if (code === 'EACCES' || code === 'EROFS') throw usageError('file-unwritable', `${path}: cannot write there (${code})`, error);
    throw error;
  }
  const file: WriteStream = createWriteStream('', { fd, autoClose: false, highWaterMark: 1 << 20 });
  const compress = gzip ? createGzip() : undefined;
  if (compress) compress.pipe(file);
  const stream = streamWriter(compress ?? file, path);
  if (compress) file.on('error', (error) => compress.destroy(error));

  let closed = false;
  let fdOpen = true;
  // Closed exactly once: a second close could hit a descriptor number the process reused meanwhile.
  const closeFd = async () => {
    if (!fdOpen) return;
    fdOpen = false;
    await closeFile(fd);
  };
  return {
    write: stream.write,
    async close(complete) {
      if (closed) return;
      closed = true;
      if (!complete) {
        compress?.destroy();
        // Destroying a file stream closes its descriptor, autoClose or not (after any write in
        // progress): closing it here too would close whatever file took that number meanwhile.
        fdOpen = false;
        const fileClosed = once(file, 'close');
        file.destroy();
        await fileClosed.catch(() => {});
        await unlinkFile(temp).catch(() => {});
        return;
      }
      try {
        await stream.end();
        if (compress) await finished(file).catch(failWriting(path));
        await fsyncFile(fd);
        await closeFd();
        await renameFile(temp, path);
      } catch (error) {
        await closeFd().catch(() => {});
        await unlinkFile(temp).catch(() => {});
        if (error instanceof Error && 'kind' in error) throw error;
        throw fatalError('write-failed', `${path}: could not finish the export (${(error as Error).message})`, error);
      }
      await syncDirectory(dirname(path));
    },
  };
}

/**
 * Where a file sink's bytes go: a path (written atomically, or in place for a FIFO or a device), or
 * a stream: stdout, or a library caller's (an HTTP response, an S3 upload). A stream the run `owns`
 * is ended when the run completes and destroyed when it does not, so whatever reads it never sees
 * an end that looks whole; stdout is only flushed, never ended.
 */
export type FileOutput = { path: string } | { stream: Writable; name: string; owns: boolean };

/** The output a FileOutput names: a stream, a special file written in place, or a path written atomically. */
export async function openOutput(output: FileOutput, gzip: boolean): Promise<Output> {
  if ('stream' in output) return openStreamOutput(output.stream, { name: output.name, owns: output.owns, gzip });
  return (await isSpecialFile(output.path)) ? openSpecialOutput(output.path, gzip) : openFileOutput(output.path, gzip);
}

/** Output to a stream (see FileOutput), gzipped when asked: no temp file. */
export function openStreamOutput(target: Writable, options: { name: string; owns: boolean; gzip: boolean }): Output {
  const { name, owns } = options;
  const compress = options.gzip ? createGzip() : undefined;
  if (compress) {
    compress.pipe(target, { end: owns });
    target.on('error', (error) => compress.destroy(error));
  }
  const stream = streamWriter(compress ?? target, name);
  return {
    write: stream.write,
    async close(complete) {
      if (!complete) {
        compress?.destroy();
        if (owns) target.destroy();
        return;
      }
      if (!compress) return owns ? stream.end() : stream.flush();
      // The gzip trailer must reach the target before the run says it is done.
      await stream.end();
      await (owns ? finished(target).catch(failWriting(name)) : streamWriter(target, name).flush());
    },
  };
}

/**
 * Whether a path must be written where it is instead of through a temp file and a rename: a FIFO,
 * a device (/dev/stdout, /dev/null) or a socket. Renaming onto those would replace the special file
 * with a regular one, and its reader would get nothing.
 */
export async function isSpecialFile(path: string): Promise<boolean> {
  if (/^\/(dev|proc)\//.test(path)) return true;
  try {
    return !(await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** Output written in place to a special file (see isSpecialFile): opened for writing, ended when done. */
export function openSpecialOutput(path: string, gzip: boolean): Output {
  const file = createWriteStream(path, { flags: 'w', highWaterMark: 1 << 20 });
  return openStreamOutput(file, { name: path, owns: true, gzip });
}

function writeFailed(name: string, error: Error) {
  return fatalError('write-failed', `${name}: ${error.message}`, error);
}

/** For a promise's catch: the stream's error as our one-line fatal error. */
const failWriting = (name: string) => (error: Error): never => {
  throw writeFailed(name, error);
};

/** Promise-based write/end over a Writable that remembers the first error and respects `drain`. */
export function streamWriter(target: Writable, name: string) {
  let failure: Error | undefined;
  target.on('error', (error) => (failure ??= error));
  const check = () => {
    if (failure) throw writeFailed(name, failure);
  };
  return {
    async write(text: string | Uint8Array): Promise<void> {
      check();
      // once() rejects when the stream errors while we wait, so a dead disk never hangs the run.
      if (!target.write(text)) await once(target, 'drain').catch(failWriting(name));
      check();
    },
    /** Waits until everything written so far reached the target, without ending it. */
    async flush(): Promise<void> {
      check();
      await new Promise<void>((resolveFlush, reject) => target.write('', (error) => (error ? reject(error) : resolveFlush())));
    },
    async end(): Promise<void> {
      check();
      target.end();
      // Errors here are the caller's to word: a file export says it could not be finished.
      await finished(target);
      check();
    },
  };
}

/** Makes the rename itself durable; best effort (not every platform can fsync a directory). */
async function syncDirectory(directory: string): Promise<void> {
  try {
    const fd = await openFile(directory, 'r');
    await fsyncFile(fd).finally(() => closeFile(fd));
  } catch {
    // The data is already synced; only the directory entry's durability is at stake.
  }
}
