import { execFile } from 'node:child_process';
import http from 'node:http';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Runs the `git` command (the independent judge of our repositories) and returns its output. */
export async function gitCmd(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const { stdout } = await run('git', args, { maxBuffer: 256 * 1024 * 1024, ...options });
  return stdout;
}

/** Runs the `git` command and returns its output as bytes (for blobs). */
export async function gitBytes(args: string[], options: { cwd?: string } = {}): Promise<Buffer> {
  const { stdout } = await run('git', args, { maxBuffer: 256 * 1024 * 1024, encoding: 'buffer', ...options });
  return stdout;
}

/** `git fsck --full --strict` on a bare repository; throws with git's words on any problem. */
export async function fsck(gitDir: string): Promise<void> {
  await gitCmd(['--git-dir', gitDir, 'fsck', '--full', '--strict', '--no-dangling']);
}

/** The commit ids of `main`, newest first, and whether every commit has at most one parent. */
export async function history(gitDir: string): Promise<{ commits: string[]; linear: boolean }> {
  const lines = (await gitCmd(['--git-dir', gitDir, 'rev-list', '--parents', 'main'])).trim().split('\n');
  return { commits: lines.map((l) => l.slice(0, 40)), linear: lines.every((l) => l.split(' ').length <= 2) };
}

/** Every file of `main` with its blob id, as `git ls-tree -r` sees it. */
export async function lsTree(gitDir: string, rev = 'main'): Promise<Map<string, string>> {
  const out = await gitCmd(['--git-dir', gitDir, 'ls-tree', '-r', '-z', rev]);
  const files = new Map<string, string>();
  for (const line of out.split('\0')) {
    if (!line) continue;
    const [meta, file] = line.split('\t') as [string, string];
    files.set(file, meta.split(' ')[2] as string);
  }
  return sorted(files);
}

/** Every file below a folder with its Git blob id (as `git hash-object` would give). */
export async function folderFiles(dir: string): Promise<Map<string, string>> {
  const { readdir, readFile } = await import('node:fs/promises');
  const { blobId } = await import('../../index-repo/git-object.ts');
  const files = new Map<string, string>();
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const full = `${entry.parentPath}/${entry.name}`;
    files.set(full.slice(dir.length + 1), blobId(await readFile(full)));
  }
  return sorted(files);
}

/** The same map with its keys in order, so that two listings compare equal with deepEqual. */
function sorted(files: Map<string, string>): Map<string, string> {
  return new Map([...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export type GitRun = { code: number; stdout: string; stderr: string };

/**
 * Runs a `git` client command as a user would, never prompting (GIT_TERMINAL_PROMPT=0), and
 * answers its exit code and output whatever they are: for the commands expected to fail.
 */
export function gitClient(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<GitRun> {
  return new Promise((resolve) => {
    const env = { ...process.env, GIT_TERMINAL_PROMPT: '0', ...options.env };
    execFile('git', args, { maxBuffer: 256 * 1024 * 1024, env, ...(options.cwd ? { cwd: options.cwd } : {}) }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** The refs `git ls-remote` printed, by name. */
export function remoteRefs(output: string): Map<string, string> {
  const refs = new Map<string, string>();
  for (const line of output.split('\n')) {
    const [oid, name] = line.split('\t');
    if (oid && name) refs.set(name, oid);
  }
  return refs;
}

/**
 * A fetch from the repository at `repoPath` (`/index.git`, `/git/acme/pkg.git`) whose body never
 * ends: it declares more bytes than it sends, so that its Git process, once started, waits for
 * the rest, holding its slot. Answers the request and its response once there is one (Git's
 * headers come before it reads the body); destroy the request to end it.
 */
export function hangingGitFetch(baseUrl: string, repoPath: string): { request: http.ClientRequest; response: Promise<http.IncomingMessage>; closed: Promise<void> } {
  const request = http.request(`${baseUrl}${repoPath}/git-upload-pack`, { method: 'POST', headers: { 'content-type': 'application/x-git-upload-pack-request', 'content-length': '100000' } });
  const response = new Promise<http.IncomingMessage>((resolve) => request.once('response', resolve));
  const closed = new Promise<void>((resolve) => request.once('close', () => resolve()));
  request.on('error', () => {});
  request.write('0032want ');
  return { request, response, closed };
}
