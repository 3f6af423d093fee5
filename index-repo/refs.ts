import fs from 'node:fs/promises';
import path from 'node:path';
import { syncDir } from './durable-fs.ts';

export const BRANCH = 'refs/heads/main';

/** The commit `main` points to, or null in a repository without commits. */
export async function readMain(gitDir: string): Promise<string | null> {
  try {
    const value = (await fs.readFile(path.join(gitDir, BRANCH), 'utf8')).trim();
    if (!/^[0-9a-f]{40}$/.test(value)) throw new Error(`${BRANCH} holds "${value.slice(0, 60)}", not a commit id`);
    return value;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  try {
    const packed = await fs.readFile(path.join(gitDir, 'packed-refs'), 'utf8');
    const line = packed.split('\n').find((l) => l.endsWith(` ${BRANCH}`));
    return line ? line.slice(0, 40) : null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Moves `main` the way Git itself does, in two steps. `prepareMain` writes the new value to
 * `refs/heads/main.lock` and flushes it; it may run while the commit's objects are being
 * flushed. Once they are on disk, the returned `move` renames the lock over the ref and
 * flushes the folder. A reader sees the old commit or the new one; after a crash the ref names
 * a commit that was durable before the ref moved. (isomorphic-git's writeRef truncates the
 * file in place instead.)
 */
export async function prepareMain(gitDir: string, oid: string): Promise<{ move(): Promise<void>; discard(): Promise<void> }> {
  const ref = path.join(gitDir, BRANCH);
  const lock = `${ref}.lock`;
  const handle = await fs.open(lock, 'w', 0o644);
  try {
    await handle.writeFile(`${oid}\n`);
    await handle.datasync();
  } finally {
    await handle.close();
  }
  return {
    async move() {
      await fs.rename(lock, ref);
      await syncDir(path.dirname(ref));
    },
    discard: () => fs.rm(lock, { force: true }),
  };
}

/** Removes a lock left by a process that died while moving the ref. */
export async function removeStaleRefLock(gitDir: string): Promise<void> {
  await fs.rm(path.join(gitDir, `${BRANCH}.lock`), { force: true });
}
