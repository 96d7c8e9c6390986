import { chmod, open, type FileHandle } from 'node:fs/promises';

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
  const handle = await openPrivate(temp, 'w');
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, path);
}
