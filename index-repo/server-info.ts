import path from 'node:path';
import { replaceFile } from './durable-fs.ts';
import { BRANCH } from './refs.ts';

/**
 * Keeps what `git update-server-info` would write, so that `git clone` works over plain
 * HTTP: `info/refs` (the branch and its commit) and `objects/info/packs` (the packs to fetch).
 * Both are derived from the repository and rewritten whole, atomically.
 */
export async function writeServerInfo(gitDir: string, head: string, packNames: string[]): Promise<void> {
  await replaceFile(path.join(gitDir, 'info', 'refs'), `${head}\t${BRANCH}\n`, false);
  const packs = packNames.map((name) => `P ${name}\n`).join('') + '\n';
  await replaceFile(path.join(gitDir, 'objects', 'info', 'packs'), packs, false);
}
