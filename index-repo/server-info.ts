import fs from 'node:fs/promises';
import path from 'node:path';
import { writeTemp } from './durable-fs.ts';
import { BRANCH } from './refs.ts';

/**
 * `git clone` over plain HTTP reads what `git update-server-info` would write: `info/refs`
 * (the branch and its commit) and `objects/info/packs` (the packs to fetch). Both are derived
 * from the repository and rewritten whole after each commit and each packing: staged side by
 * side (while a commit is flushed), then renamed pack list first, since a client reads the
 * ref, then looks for its objects in the packs listed.
 */
export async function stageServerInfo(gitDir: string, head: string | null, packNames: string[]): Promise<{ publish(): Promise<void> }> {
  const packsFile = path.join(gitDir, 'objects', 'info', 'packs');
  const refsFile = path.join(gitDir, 'info', 'refs');
  const packs = packNames.map((name) => `P ${name}\n`).join('') + '\n';
  const [packsTemp, refsTemp] = await Promise.all([
    writeTemp(packsFile, Buffer.from(packs)),
    head ? writeTemp(refsFile, Buffer.from(`${head}\t${BRANCH}\n`)) : null,
  ]);
  return {
    async publish() {
      await fs.rename(packsTemp, packsFile);
      if (refsTemp) await fs.rename(refsTemp, refsFile);
    },
  };
}

export async function writeServerInfo(gitDir: string, head: string | null, packNames: string[]): Promise<void> {
  await (await stageServerInfo(gitDir, head, packNames)).publish();
}
