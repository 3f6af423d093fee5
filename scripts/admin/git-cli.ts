import { spawn } from 'node:child_process';

/**
 * The `git` command, read-only, as the ops scripts' independent judge of the index
 * repositories (the registry itself writes them without it).
 */

export type GitResult = { code: number; stdout: Buffer; stderr: string };

const gitEnv = { ...process.env, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' };

export function git(gitDir: string, args: string[]): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', [`--git-dir=${gitDir}`, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: gitEnv });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(out), stderr }));
  });
}

export type TreeEntry = { mode: string; type: string; oid: string; path: string };

/** Every file of a commit's tree with its blob id (`git ls-tree -r`, which reads trees only, not blobs). */
export async function listTree(gitDir: string, commit: string): Promise<Map<string, TreeEntry>> {
  const result = await git(gitDir, ['ls-tree', '-r', '-z', '--full-tree', commit]);
  if (result.code !== 0) throw new Error(`git ls-tree ${commit} failed: ${result.stderr.trim()}`);
  const entries = new Map<string, TreeEntry>();
  for (const record of result.stdout.toString('utf8').split('\0')) {
    const match = /^(\d+) (\w+) ([0-9a-f]+)\t(.*)$/s.exec(record);
    if (!match) continue;
    const [, mode = '', type = '', oid = '', path = ''] = match;
    entries.set(path, { mode, type, oid, path });
  }
  return entries;
}

export type RefEntry = { oid: string };

/** Every ref under `prefix` with the object it names (`git for-each-ref`; the object need not exist). */
export async function listRefs(gitDir: string, prefix: string): Promise<Map<string, RefEntry>> {
  const result = await git(gitDir, ['for-each-ref', '--format=%(objectname) %(refname)', prefix]);
  if (result.code !== 0) throw new Error(`git for-each-ref failed: ${result.stderr.trim()}`);
  const refs = new Map<string, RefEntry>();
  for (const line of result.stdout.toString('utf8').split('\n')) {
    const [oid = '', name = ''] = line.split(' ');
    if (name) refs.set(name, { oid });
  }
  return refs;
}

/** The commit a ref points to, or null when it does not resolve to one. */
export async function resolveCommit(gitDir: string, ref: string): Promise<string | null> {
  const result = await git(gitDir, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  return result.code === 0 ? result.stdout.toString('utf8').trim() : null;
}

/**
 * Reads blobs through one `git cat-file --batch`, handing each to `each` as it arrives, so
 * that a whole registry's bundles never sit in memory at once. A missing object is `null`.
 */
export function readBlobs(gitDir: string, oids: string[], each: (oid: string, content: Buffer | null) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', [`--git-dir=${gitDir}`, 'cat-file', '--batch'], { stdio: ['pipe', 'pipe', 'pipe'], env: gitEnv });
    // A git that dies early closes its stdin: the exit code tells, not the failed write.
    child.stdin.on('error', () => {});
    let pending: Buffer = Buffer.alloc(0);
    let stderr = '';
    const parse = () => {
      for (;;) {
        const newline = pending.indexOf(10);
        if (newline === -1) return;
        const header = pending.subarray(0, newline).toString('utf8');
        const missing = / missing$/.exec(header);
        if (missing) {
          each(header.split(' ')[0] ?? '', null);
          pending = pending.subarray(newline + 1);
          continue;
        }
        const [oid = '', , size = '0'] = header.split(' ');
        const end = newline + 1 + Number(size);
        if (pending.length < end + 1) return;
        each(oid, pending.subarray(newline + 1, end));
        pending = pending.subarray(end + 1);
      }
    };
    child.stdout.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      parse();
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`git cat-file failed: ${stderr.trim()}`))));
    child.stdin.end(oids.map((oid) => `${oid}\n`).join(''));
  });
}
