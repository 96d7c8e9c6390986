/**
 * The files a run writes besides its target (report, dead letters, checkpoint) are checked before
 * anything is read: a directory that does not exist would otherwise fail the run at its end, after
 * all the work, or leave no report of it at all.
 */
import { access, constants } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { usageError } from '../errors.js';

/** Each file (by the option that names it) can be created where it is named. */
export async function checkOutputFiles(files: Record<string, string | undefined>): Promise<void> {
  for (const [option, path] of Object.entries(files)) {
    if (!path) continue;
    const dir = dirname(resolve(path));
    try {
      await access(dir, constants.W_OK);
    } catch (error) {
      const why = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : 'is not writable';
      throw usageError('output-file', `${option} ${path}: the directory ${dir} ${why}`);
    }
  }
}
