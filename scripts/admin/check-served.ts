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
 * Compares the served folder with the tree of `main` and the bundles of the content refs (by
 * served path), file by file, by Git blob id: every one of them is served with the same bytes,
 * and nothing else is served.
 */
export async function checkServed(servedDir: string, mainTree: Map<string, TreeEntry>, bundles: Map<string, string>): Promise<string[]> {
  const tree = new Map<string, { oid: string }>(mainTree);
  for (const [file, oid] of bundles) tree.set(file, { oid });
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
      findings.push(`served: index/${file} is served but is neither on main nor a bundle`);
      continue;
    }
    const content = await fs.readFile(path.join(servedDir, file));
    if (blobId(content) !== wanted.oid) findings.push(`served: index/${file} differs from ${bundles.has(file) ? 'its bundle ref' : 'main'}`);
  }
  for (const file of tree.keys()) {
    if (!served.has(file)) findings.push(`served: index/${file} is ${bundles.has(file) ? 'a bundle' : 'on main'} but is not served`);
  }
  return findings;
}
