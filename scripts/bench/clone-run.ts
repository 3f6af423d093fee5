import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { CountingProxy } from './counting-proxy.ts';

const run = promisify(execFile);

/** One measured clone: wall time, what went over HTTP, and what it left on disk. */
export type CloneFigures = {
  seconds: number;
  /** Of which writing the work tree (Git's own `unpack_trees` timing; 0 for a mirror). */
  checkout: number;
  requests: number;
  /** Each request, as `GET /index.git/info/refs 200`. */
  asked: string[];
  /** Bytes the client received, and sent, on its connections (headers included). */
  received: number;
  sent: number;
  /** `du` of the whole clone (work tree and repository), and of its repository alone. */
  disk: number;
  repository: number;
  /** Objects in the clone (`git count-objects -v`: loose and packed). */
  objects: number;
  /** Files in the checked-out tree (0 for a mirror), bundles among them, and refs. */
  files: number;
  bundles: number;
  refs: number;
};

/**
 * Git as a user without any configuration runs it: no system or global settings, no prompt
 * for credentials, no proxy from the environment.
 */
function plainGitEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(https?|all|no)_proxy$/i.test(name)));
  return { ...env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_TERMINAL_PROMPT: '0' };
}

async function git(args: string[], env: Record<string, string> = {}): Promise<string> {
  return (await run('git', args, { env: { ...plainGitEnv(), ...env }, maxBuffer: 1 << 30 })).stdout;
}

/**
 * The seconds the `git` command traced into `file` (GIT_TRACE2_EVENT) spent writing its work
 * tree: its own `unpack_trees` regions, not those of the processes it started. Removes `file`.
 */
function checkoutSeconds(file: string): number {
  const events = fs.readFileSync(file, 'utf8').split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as { event: string; sid: string; category?: string; label?: string; nesting?: number; t_rel?: number });
  fs.rmSync(file);
  return events
    .filter((e) => !e.sid.includes('/') && e.event === 'region_leave' && e.category === 'unpack_trees' && e.label === 'unpack_trees' && e.nesting === 1)
    .reduce((sum, e) => sum + (e.t_rel ?? 0), 0);
}

/** What `du -s --block-size=1` reports for `dir`: the bytes its files take on disk. */
async function diskUsage(dir: string): Promise<number> {
  return Number((await run('du', ['-s', '--block-size=1', dir])).stdout.split('\t')[0]);
}

const lines = (text: string) => text.split('\n').filter((line) => line !== '').length;

async function objectCount(gitDir: string): Promise<number> {
  const fields = Object.fromEntries((await git(['--git-dir', gitDir, 'count-objects', '-v'])).trim().split('\n').map((line) => line.split(': ') as [string, string]));
  return Number(fields.count) + Number(fields['in-pack']);
}

/**
 * `git clone --quiet` (with `--mirror` when asked) of `<proxy>/index.git` into `dir`, timed from
 * start to exit (and Git's own timing of its checkout, traced to a file beside `dir`), its
 * traffic counted by the proxy in front of the registry; then what the clone
 * holds, and `dir` removed (and the removal flushed). The clone runs as a child process that does not block this one,
 * since the proxy is served from here.
 */
export async function measureClone(proxy: CountingProxy, dir: string, mirror: boolean): Promise<CloneFigures> {
  const before = proxy.traffic();
  const first = proxy.requests().length;
  const t0 = performance.now();
  const trace = `${dir}.trace.json`;
  await git(['clone', '--quiet', ...(mirror ? ['--mirror'] : []), `${proxy.url}/index.git`, dir], { GIT_TRACE2_EVENT: trace });
  const seconds = (performance.now() - t0) / 1000;
  const after = proxy.traffic();
  try {
    const gitDir = mirror ? dir : path.join(dir, '.git');
    const tree = mirror ? [] : (await git(['--git-dir', gitDir, 'ls-tree', '-r', '--name-only', 'HEAD'])).split('\n').filter((file) => file !== '');
    return {
      seconds,
      checkout: checkoutSeconds(trace),
      requests: after.requests - before.requests,
      asked: proxy.requests().slice(first).map((r) => `${r.method} ${r.path} ${r.status}`),
      received: after.received - before.received,
      sent: after.sent - before.sent,
      disk: await diskUsage(dir),
      repository: await diskUsage(gitDir),
      objects: await objectCount(gitDir),
      files: tree.length,
      bundles: tree.filter((file) => file.endsWith('/bundle.pkg.gz')).length,
      refs: lines(await git(['--git-dir', gitDir, 'for-each-ref'])),
    };
  } finally {
    // Removed and flushed now, so that the disk is not still writing it back during the next clone.
    fs.rmSync(dir, { recursive: true, force: true });
    await run('sync');
  }
}
