import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { sourceTree } from '../../gateway/packages/source-tree.ts';
import type { BundleContent } from './bundle.ts';
import { gitCmd } from './git.ts';

/** The `gren.json` the registry keeps for a published outline: four-space JSON and a newline. */
export function outlineFile(outline: Record<string, unknown>): Buffer {
  return Buffer.from(JSON.stringify(outline, null, 4) + '\n');
}

/** One version's commit in a package repository, and its tree (equal wherever the same files are committed). */
export type VersionCommit = { commit: string; tree: string };

/** `git fast-import` input making one root commit per version, each on its lightweight tag `refs/tags/<version>`. */
function fastImportStream(versions: BundleContent[]): Buffer {
  const parts: Buffer[] = [];
  for (const { outline, sources } of versions) {
    parts.push(Buffer.from(`commit refs/tags/${outline.version}\ncommitter Gren Registry <registry@localhost> 0 +0000\ndata 0\n`));
    for (const file of sourceTree(outlineFile(outline), sources)) {
      parts.push(Buffer.from(`M 100644 inline ${file.path}\ndata ${file.content.length}\n`), Buffer.from(file.content), Buffer.from('\n'));
    }
    parts.push(Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

function fastImport(gitDir: string, stream: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', ['--git-dir', gitDir, 'fast-import', '--quiet'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`git fast-import failed: ${stderr}`))));
    child.stdin.end(stream);
  });
}

/**
 * Bare repositories laid out as the compiler finds packages on GitHub, one per package at
 * `<root>/<author>/<name>.git`, holding one lightweight tag `<version>` per version given: a
 * root commit whose tree is what gateway/packages/source-tree.ts says the compiler reads
 * (`gren.json` as the registry writes it, `src/A/B.gren`, `src/Gren/Kernel/X.js`). Commits
 * are made with a fixed author and time, so the same versions give the same commits. Answers
 * every package's versions with their commit and tree, as `git for-each-ref` reads them.
 */
export async function packageRepositories(root: string, versions: BundleContent[]): Promise<Map<string, Map<string, VersionCommit>>> {
  const byPackage = new Map<string, BundleContent[]>();
  for (const version of versions) {
    if (version.outline.type !== 'package') throw new Error(`${version.outline.name ?? 'an application'} is not a package`);
    byPackage.set(version.outline.name, [...(byPackage.get(version.outline.name) ?? []), version]);
  }
  const result = new Map<string, Map<string, VersionCommit>>();
  for (const [name, list] of byPackage) {
    const gitDir = path.join(root, `${name}.git`);
    if (!fs.existsSync(gitDir)) await gitCmd(['init', '--quiet', '--bare', gitDir]);
    await fastImport(gitDir, fastImportStream(list));
    const refs = await gitCmd(['--git-dir', gitDir, 'for-each-ref', '--format=%(refname:strip=2) %(objectname) %(tree)', 'refs/tags']);
    const tags = new Map<string, VersionCommit>();
    for (const line of refs.trim().split('\n')) {
      const [tag = '', commit = '', tree = ''] = line.split(' ');
      tags.set(tag, { commit, tree });
    }
    result.set(name, tags);
  }
  return result;
}
