import fs from 'node:fs';
import path from 'node:path';

export class RepositoryInUseError extends Error {
  constructor(dir: string, pid: number) {
    super(`another registry process (pid ${pid}) is using ${dir}; stop it before starting this one`);
    this.name = 'RepositoryInUseError';
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const lockFile = (dir: string) => path.join(dir, 'registry.lock');

/** The pid of the live process holding a repository's lock, or null when none does. */
export function lockOwner(dir: string): number | null {
  let owner: number;
  try {
    owner = Number(fs.readFileSync(lockFile(dir), 'utf8').trim());
  } catch {
    return null;
  }
  return Number.isInteger(owner) && owner > 0 && isAlive(owner) ? owner : null;
}

/**
 * Takes the one-writer lock of a repository: a file holding the owner's pid, created
 * exclusively. A lock whose process is gone (killed, crashed) is taken over; a live one,
 * even this process's own, refuses with a clear message. Returns the release function.
 */
export function takeProcessLock(dir: string): () => void {
  const file = lockFile(dir);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      let released = false;
      return () => {
        if (released) return;
        released = true;
        fs.rmSync(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = lockOwner(dir);
    if (owner !== null) throw new RepositoryInUseError(dir, owner);
    fs.rmSync(file, { force: true });
  }
  throw new Error(`could not take the lock ${file}`);
}
