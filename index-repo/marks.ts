import fs from 'node:fs/promises';
import fsSync from 'node:fs';
import path from 'node:path';
import { replaceFile, syncDir } from './durable-fs.ts';

const FILE = 'registry-format';

/** The layout version a repository is marked with; 0 for a repository without a mark. */
export async function readFormat(gitDir: string): Promise<number> {
  try {
    const value = Number((await fs.readFile(path.join(gitDir, FILE), 'utf8')).trim());
    return Number.isInteger(value) && value >= 0 ? value : 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
}

/** Marks a repository with a layout version, durably. */
export async function writeFormat(gitDir: string, version: number): Promise<void> {
  await replaceFile(path.join(gitDir, FILE), `${version}\n`, true);
  await syncDir(gitDir);
}

const PURGE_OWED = 'purge-owed';

/** Whether a purge is owed: objects may have become unreachable (refs deleted, history replaced) since the last one finished. */
export function purgeOwed(gitDir: string): boolean {
  return fsSync.existsSync(path.join(gitDir, PURGE_OWED));
}

/** Marks a purge as owed, durably, before what makes objects unreachable is: a crash cannot forget it. */
export async function markPurgeOwed(gitDir: string): Promise<void> {
  if (purgeOwed(gitDir)) return;
  await replaceFile(path.join(gitDir, PURGE_OWED), 'objects may be unreachable since the last purge\n', true);
  await syncDir(gitDir);
}

/** Clears the mark once a purge finished with nothing owed since it began. */
export function clearPurgeOwed(gitDir: string): void {
  fsSync.rmSync(path.join(gitDir, PURGE_OWED), { force: true });
}
