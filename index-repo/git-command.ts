import { spawn } from 'node:child_process';
import { killGroup } from './git-spawner.ts';

export type GitCommandResult = { code: number | null; stdout: Buffer; stderr: string };

export type GitCommandOptions = {
  /** Written to the command's stdin, which is then closed. */
  input?: string;
  /** Killed, with every process it started (a fetch's remote helper), after this long. */
  timeoutMs?: number;
  /** Variables over the process's own environment. */
  env?: Record<string, string>;
  /** Kills the command, with every process it started, when aborted. */
  signal?: AbortSignal;
};

/** A `git` command that failed: its words, on one line. */
export class GitCommandError extends Error {
  readonly code: number | null;
  constructor(args: string[], result: GitCommandResult, timedOut: boolean) {
    const words = result.stderr.trim().split('\n').map((line) => line.trim()).filter((line) => line !== '').join(' | ');
    super(`git ${args[0] ?? ''} ${timedOut ? 'took too long and was stopped' : `failed (${result.code})`}${words ? `: ${words.slice(0, 2000)}` : ''}`);
    this.name = 'GitCommandError';
    this.code = result.code;
  }
}

/**
 * The environment of a `git` the registry runs: its own (PATH, HOME, Git's and ssh's settings
 * for pushes to mirrors), with Git never prompting for anything, and `extra` over it. The one
 * place the registry passes its environment on to Git (not configuration: that is read once,
 * in gateway/config.ts).
 */
export function gitEnvironment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, GIT_TERMINAL_PROMPT: '0', ...extra };
}

/** Where the serving `git http-backend` is found: the registry's `PATH`, all the CGI gets of its environment. */
export function gitPath(): string {
  return gitEnvironment()['PATH'] ?? '/usr/bin:/bin';
}

/**
 * Runs `git` on a repository in a process group of its own and resolves with its exit code and
 * output, whatever they are. Git never prompts (GIT_TERMINAL_PROMPT=0) and speaks C.
 */
export function runGit(gitDir: string, args: string[], options: GitCommandOptions = {}): Promise<GitCommandResult & { timedOut: boolean }> {
  return new Promise((resolve, reject) => {
    const env = gitEnvironment({ LC_ALL: 'C', ...options.env });
    const child = spawn('git', ['--git-dir', gitDir, ...args], { env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    let timedOut = false;
    const kill = () => {
      if (child.pid !== undefined) killGroup(child.pid);
    };
    const timer = options.timeoutMs === undefined ? null : setTimeout(() => {
      timedOut = true;
      kill();
    }, options.timeoutMs);
    options.signal?.addEventListener('abort', kill, { once: true });
    if (options.signal?.aborted) kill();
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 64 * 1024) stderr += chunk.toString('utf8');
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
    child.once('error', (err) => {
      if (timer) clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', kill);
      resolve({ code, stdout: Buffer.concat(out), stderr, timedOut });
    });
  });
}

/** Runs `git` and answers its output; throws a `GitCommandError` when it fails. */
export async function git(gitDir: string, args: string[], options: GitCommandOptions = {}): Promise<string> {
  const result = await runGit(gitDir, args, options);
  if (result.code !== 0) throw new GitCommandError(args, result, result.timedOut);
  return result.stdout.toString('utf8');
}
