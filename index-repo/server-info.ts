import path from 'node:path';
import { replaceFile } from './durable-fs.ts';
import { BRANCH } from './refs.ts';

/**
 * `git clone` over plain HTTP reads what `git update-server-info` would write: `info/refs`
 * (the branch and its commit, rewritten at each commit) and `objects/info/packs` (the packs
 * to fetch). Both are derived from the repository and rewritten whole, atomically.
 */
export async function writeInfoRefs(gitDir: string, head: string): Promise<void> {
  await replaceFile(path.join(gitDir, 'info', 'refs'), `${head}\t${BRANCH}\n`, false);
}

/** Rewrites `objects/info/packs`; only packing changes it. */
export async function writeInfoPacks(gitDir: string, packNames: string[]): Promise<void> {
  const packs = packNames.map((name) => `P ${name}\n`).join('') + '\n';
  await replaceFile(path.join(gitDir, 'objects', 'info', 'packs'), packs, false);
}
