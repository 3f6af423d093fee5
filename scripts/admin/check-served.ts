import fs from 'node:fs/promises';
import path from 'node:path';
import crypto from 'node:crypto';
import type { TreeEntry } from './git-cli.ts';

/** Git's id of a blob with this content: SHA-1 of `blob <size>\0<content>`. */
export function blobId(content: Buffer): string {
  return crypto.createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}

async function servedFiles(dir: string, relative = ''): Promise<string[]> {
  const entries = await fs.readdir(path.join(dir, relative), { withFileTypes: true });
  const nested = await Promise.all(
    entries.map(async (entry) => {
      const child = relative === '' ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory()) return servedFiles(dir, child);
      return [child];
    }),
  );
  return nested.flat();
}

/**
 * Compares the served folder with the tree of `main`, file by file, by Git blob id: every
 * file of the tree is served with the same bytes, and nothing else is served.
 */
export async function checkServed(servedDir: string, tree: Map<string, TreeEntry>): Promise<string[]> {
  let files: string[];
  try {
    files = await servedFiles(servedDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [`served: the folder ${servedDir} is missing`];
    throw err;
  }
  const findings: string[] = [];
  const served = new Set(files);
  for (const file of files.sort()) {
    const wanted = tree.get(file);
    if (!wanted) {
      findings.push(`served: index/${file} is served but is not on main`);
      continue;
    }
    const content = await fs.readFile(path.join(servedDir, file));
    if (blobId(content) !== wanted.oid) findings.push(`served: index/${file} differs from main`);
  }
  for (const file of tree.keys()) {
    if (!served.has(file)) findings.push(`served: index/${file} is on main but is not served`);
  }
  return findings;
}
