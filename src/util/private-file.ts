import { chmod, open, readdir, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Opens a file readable by its owner only: backups, dead letters, reports and checkpoints may hold
 * users' API keys. chmod too, because `open` keeps the mode of a file that already exists.
 */
export async function openPrivate(path: string, flags: 'w' | 'a'): Promise<FileHandle> {
  const handle = await open(path, flags, 0o600);
  await chmod(path, 0o600);
  return handle;
}

/** Writes a whole small file (report, checkpoint) atomically: temp file, fsync, rename. */
export async function writePrivateAtomic(path: string, content: string): Promise<void> {
  const { rename } = await import('node:fs/promises');
  const temp = `${path}.${process.pid}.tmp`;
  await sweepTemps(path);
  const handle = await openPrivate(temp, 'w');
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, path);
}

/** Files whose leftover temp files this process has looked for. */
const swept = new Set<string>();

/**
 * Removes the temp files of `path` that processes no longer running left behind (killed between
 * writing and renaming: a SIGKILLed run's checkpoint), once per path and process. A live process's
 * temp file is left alone: it may be renaming it now.
 */
async function sweepTemps(path: string): Promise<void> {
  if (swept.has(path)) return;
  swept.add(path);
  const dir = dirname(path);
  const prefix = `${basename(path)}.`;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const pid = name.startsWith(prefix) ? /^(\d+)\.tmp$/.exec(name.slice(prefix.length))?.[1] : undefined;
    if (pid && !isRunning(Number(pid))) await unlink(join(dir, name)).catch(() => undefined);
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
