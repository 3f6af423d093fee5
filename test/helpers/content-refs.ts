import zlib from 'node:zlib';
import { spawn } from 'node:child_process';
import { sourceTree } from '../../gateway/packages/source-tree.ts';
import { packagePaths } from '../../gateway/packages/version-index.ts';
import { published } from './fixtures.ts';
import type { TestRegistry } from './registry.ts';

/**
 * Writes one published version's content refs with git plumbing, as the registry's commit path
 * is to write them (the team's layout): in the package's namespace, a lightweight tag
 * `refs/tags/<version>` on a root commit whose tree is `gren.json` (the same blob as main's)
 * and every module at the path `sourceTree` gives, and `refs/bundles/<version>` on the bundle's
 * blob. It reads the version from `main` as published today. Stands in for the commit path
 * until publishing writes these refs itself; then this file goes.
 */
export async function writeContentRefs(gitDir: string, fullName: string, version: string): Promise<{ commit: string; bundle: string }> {
  const paths = packagePaths(fullName);
  const outlineFile = await git(gitDir, ['cat-file', 'blob', `main:${paths.outline(version)}`]);
  const bundleBytes = await git(gitDir, ['cat-file', 'blob', `main:${paths.bundle(version)}`]);
  const { sources } = JSON.parse(zlib.gunzipSync(bundleBytes).toString('utf8')) as { sources: Record<string, string> };
  const root: Folder = new Map();
  for (const file of sourceTree(outlineFile, sources)) {
    const parts = file.path.split('/');
    let folder = root;
    for (const part of parts.slice(0, -1)) {
      const next = folder.get(part);
      if (next instanceof Map) folder = next;
      else folder.set(part, (folder = new Map()));
    }
    folder.set(parts.at(-1) as string, await hashObject(gitDir, 'blob', file.content));
  }
  const tree = await writeTree(gitDir, root);
  const identity = { GIT_AUTHOR_NAME: 'Gren registry', GIT_AUTHOR_EMAIL: 'registry@localhost', GIT_AUTHOR_DATE: '1700000000 +0000' };
  const env = { ...identity, GIT_COMMITTER_NAME: identity.GIT_AUTHOR_NAME, GIT_COMMITTER_EMAIL: identity.GIT_AUTHOR_EMAIL, GIT_COMMITTER_DATE: identity.GIT_AUTHOR_DATE };
  const commit = (await git(gitDir, ['commit-tree', tree, '-m', `${fullName} ${version}`], null, env)).toString().trim();
  const bundle = await hashObject(gitDir, 'blob', bundleBytes);
  const [author, name] = fullName.split('/') as [string, string];
  const namespace = `refs/namespaces/${author}/refs/namespaces/${name}`;
  await git(gitDir, ['update-ref', `${namespace}/refs/tags/${version}`, commit]);
  await git(gitDir, ['update-ref', `${namespace}/refs/bundles/${version}`, bundle]);
  return { commit, bundle };
}

type Folder = Map<string, string | Folder>;

/** Writes a folder's tree bottom-up with `git mktree`; answers its id. */
async function writeTree(gitDir: string, folder: Folder): Promise<string> {
  const lines: string[] = [];
  for (const [name, entry] of folder) {
    lines.push(typeof entry === 'string' ? `100644 blob ${entry}\t${name}` : `040000 tree ${await writeTree(gitDir, entry)}\t${name}`);
  }
  return (await git(gitDir, ['mktree'], Buffer.from(lines.join('\n') + '\n'))).toString().trim();
}

async function hashObject(gitDir: string, type: string, content: Uint8Array): Promise<string> {
  return (await git(gitDir, ['hash-object', '-w', '-t', type, '--stdin'], content)).toString().trim();
}

/** Runs git on a bare repository with `input` on stdin; answers stdout, or rejects with git's stderr. */
function git(gitDir: string, args: string[], input: Uint8Array | null = null, env: Record<string, string> = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', ['--git-dir', gitDir, ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`git ${args[0]} failed: ${stderr.trim()}`))));
    child.stdin.end(input ?? undefined);
  });
}

/** Publishes a version through the API, then writes its content refs into the repository that holds it. */
export async function publishWithContent(reg: TestRegistry, token: string, name: string, version: string, bytes: Uint8Array): Promise<void> {
  await published(reg.url, token, name, version, bytes);
  const found = reg.registry.deps.packages.find(name);
  if (!found) throw new Error(`${name} was published but is not in the catalog`);
  const repo = found.private ? reg.registry.deps.privateIndex : reg.registry.deps.index;
  await writeContentRefs(repo.gitDir, found.name, version);
}
