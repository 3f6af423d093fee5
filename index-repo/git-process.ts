import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { killGroup } from './git-spawner.ts';
import { gitEnvironment } from './git-command.ts';

export type GitProcessOptions = {
  /** The arguments after `git`. */
  args: string[];
  /** Added to the environment the registry runs with. */
  env?: Record<string, string>;
  /** The whole process group is killed after this long. */
  timeoutMs: number;
  /** Killed after this long without a byte of output nor any CPU used (it hangs); unset: no such limit. */
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
 * The CPU time (in clock ticks) the processes of a group have used so far, read from /proc;
 * null where there is none. A process that writes nothing may still be working (`git send-pack`
 * matching tens of thousands of refs computes for minutes before its first byte).
 */
export function groupCpuTicks(pgid: number): number | null {
  let names: string[];
  try {
    names = fs.readdirSync('/proc');
  } catch {
    return null;
  }
  let ticks = 0;
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      // After the command name in parentheses: state, ppid, pgrp, ..., utime (14th field), stime (15th).
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid) ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // Ended meanwhile.
    }
  }
  return ticks;
}

/**
 * Runs one `git` command, bounded: in a process group of its own (so that what it starts, a
 * transport helper or `ssh`, dies with it), without a terminal (no prompt can hang it:
 * `setsid` leaves it no controlling terminal, and `GIT_TERMINAL_PROMPT=0`), at lower CPU
 * priority (through `nice`, so that the children it forks inherit it), killed with SIGKILL to
 * the group after `timeoutMs`, after `idleMs` in which the group wrote nothing and used no CPU
 * (it hangs), or when `signal` aborts. Under `timeout`, so that a process outliving a registry
 * killed with SIGKILL still ends after `timeoutMs`. Resolves once the process and its pipes are
 * closed; never rejects.
 */
export function runGit(options: GitProcessOptions): Promise<GitProcessResult> {
  const { args, timeoutMs, maxOutput = 64 * 1024 * 1024, nice = 10 } = options;
  return new Promise((resolve) => {
    const seconds = String(Math.ceil(timeoutMs / 1000) + 5);
    const child = spawn('nice', ['-n', String(nice), 'timeout', '-s', 'KILL', seconds, 'git', ...args], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: gitEnvironment(options.env),
    });
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let stderr = '';
    const watch = watchdog(child.pid ?? 0, options);
    child.stdout.on('data', (chunk: Buffer) => {
      watch.active();
      stdoutBytes += chunk.length;
      if (stdoutBytes > maxOutput) watch.kill('output');
      else stdout.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      watch.active();
      stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_KEPT);
    });
    let settled = false;
    const finish = (code: number | null, extra = '') => {
      if (settled) return;
      settled = true;
      const killed = watch.stop();
      resolve({ code: killed ? null : code, stdout: Buffer.concat(stdout).toString('utf8'), stderr: stderr + extra, killed });
    };
    child.on('error', (err) => finish(null, err.message));
    child.on('close', (code) => finish(code));
  });
}

type Killed = NonNullable<GitProcessResult['killed']>;

/** The limits of one process group: its deadline, its idle time (no output and no CPU), its abort signal. */
function watchdog(pid: number, options: GitProcessOptions): { active(): void; kill(why: Killed): void; stop(): Killed | null } {
  const { timeoutMs, idleMs, signal } = options;
  let killed: Killed | null = null;
  const kill = (why: Killed) => {
    killed ??= why;
    if (pid) killGroup(pid);
  };
  const deadline = setTimeout(() => kill('timeout'), timeoutMs);
  let idle: NodeJS.Timeout | null = null;
  let ticks = groupCpuTicks(pid);
  const active = () => {
    if (idleMs === undefined) return;
    if (idle) clearTimeout(idle);
    idle = setTimeout(() => {
      const now = groupCpuTicks(pid);
      if (now !== null && ticks !== null && now > ticks) active();
      else kill('idle');
      ticks = now;
    }, idleMs);
  };
  active();
  const onAbort = () => kill('aborted');
  if (signal?.aborted) onAbort();
  signal?.addEventListener('abort', onAbort, { once: true });
  return {
    active,
    kill,
    stop() {
      clearTimeout(deadline);
      if (idle) clearTimeout(idle);
      signal?.removeEventListener('abort', onAbort);
      return killed;
    },
  };
}

/** A short description of a failed `git` run for a log line: why it was killed, or its last line of stderr. */
export function describeFailure(command: string, result: GitProcessResult, limits: { timeoutMs: number; idleMs?: number }): string {
  if (result.killed === 'timeout') return `git ${command} took longer than ${limits.timeoutMs} ms and was killed`;
  if (result.killed === 'idle') return `git ${command} made no progress (no output, no CPU) for ${limits.idleMs ?? 0} ms and was killed`;
  if (result.killed === 'aborted') return `git ${command} was stopped`;
  if (result.killed === 'output') return `git ${command} wrote more output than expected and was killed`;
  const lines = result.stderr
    .split(/[\r\n]+/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('hint:'));
  const reason = lines.find((line) => /^(fatal|error):/.test(line)) ?? lines.at(-1) ?? `exit code ${result.code}`;
  return `git ${command} failed: ${reason}`;
}
