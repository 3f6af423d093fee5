import { spawn } from 'node:child_process';
import { killGroup } from './git-spawner.ts';

export type GitProcessOptions = {
  /** The arguments after `git`. */
  args: string[];
  /** Added to the environment the registry runs with. */
  env?: Record<string, string>;
  /** The whole process group is killed after this long. */
  timeoutMs: number;
  /** Killed after this long without a byte of output (a stalled transfer); unset: no such limit. */
  idleMs?: number;
  /** Killed when this aborts (the registry is stopping). */
  signal?: AbortSignal;
  /** At most this much of stdout is kept; more kills the process. Default 64 MiB. */
  maxOutput?: number;
  /** The niceness the process runs at (0 to 19): lower CPU priority than the registry's requests. Default 10. */
  nice?: number;
};

/** How a `git` process ended: its exit code (null when killed), its output, and why it was killed, if it was. */
export type GitProcessResult = {
  code: number | null;
  stdout: string;
  /** The last 16 KiB of stderr. */
  stderr: string;
  killed: 'timeout' | 'idle' | 'aborted' | 'output' | null;
};

const STDERR_KEPT = 16 * 1024;

/**
 * Runs one `git` command, bounded: in a process group of its own (so that what it starts, a
 * transport helper or `ssh`, dies with it), without a terminal (no prompt can hang it:
 * `setsid` leaves it no controlling terminal, and `GIT_TERMINAL_PROMPT=0`), at lower CPU
 * priority (through `nice`, so that the children it forks inherit it), killed with SIGKILL
 * to the group after `timeoutMs`, after `idleMs` without output, or when `signal` aborts.
 * Resolves once the process and its pipes are closed; never rejects.
 */
export function runGit(options: GitProcessOptions): Promise<GitProcessResult> {
  const { args, timeoutMs, idleMs, signal, maxOutput = 64 * 1024 * 1024, nice = 10 } = options;
  return new Promise((resolve) => {
    const child = spawn('nice', ['-n', String(nice), 'git', ...args], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, GIT_TERMINAL_PROMPT: '0', ...options.env },
    });
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let stderr = '';
    let killed: GitProcessResult['killed'] = null;
    const kill = (why: NonNullable<GitProcessResult['killed']>) => {
      killed ??= why;
      if (child.pid) killGroup(child.pid);
    };
    const deadline = setTimeout(() => kill('timeout'), timeoutMs);
    let idle: NodeJS.Timeout | null = null;
    const active = () => {
      if (idleMs === undefined) return;
      if (idle) clearTimeout(idle);
      idle = setTimeout(() => kill('idle'), idleMs);
    };
    active();
    const onAbort = () => kill('aborted');
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.on('data', (chunk: Buffer) => {
      active();
      stdoutBytes += chunk.length;
      if (stdoutBytes > maxOutput) kill('output');
      else stdout.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      active();
      stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_KEPT);
    });
    let settled = false;
    const finish = (code: number | null, extra = '') => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      if (idle) clearTimeout(idle);
      signal?.removeEventListener('abort', onAbort);
      resolve({ code: killed ? null : code, stdout: Buffer.concat(stdout).toString('utf8'), stderr: stderr + extra, killed });
    };
    child.on('error', (err) => finish(null, err.message));
    child.on('close', (code) => finish(code));
  });
}

/** A short description of a failed `git` run for a log line: why it was killed, or its last line of stderr. */
export function describeFailure(command: string, result: GitProcessResult, limits: { timeoutMs: number; idleMs?: number }): string {
  if (result.killed === 'timeout') return `git ${command} took longer than ${limits.timeoutMs} ms and was killed`;
  if (result.killed === 'idle') return `git ${command} made no progress for ${limits.idleMs ?? 0} ms and was killed`;
  if (result.killed === 'aborted') return `git ${command} was stopped`;
  if (result.killed === 'output') return `git ${command} wrote more output than expected and was killed`;
  const lines = result.stderr
    .split(/[\r\n]+/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('hint:'));
  const reason = lines.find((line) => /^(fatal|error):/.test(line)) ?? lines.at(-1) ?? `exit code ${result.code}`;
  return `git ${command} failed: ${reason}`;
}
