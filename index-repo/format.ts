import fs from 'node:fs/promises';
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
