import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { LogFields, Logger } from '../gateway/log.ts';
import { QueueFullError, SlotQueue } from './slot-queue.ts';

export type GitProcessesOptions = {
  /** Git processes running at once; the rest wait in the queue. */
  processes: number;
  /** Requests that may wait for a process; one more is refused (`GitBusyError`). */
  queueLength: number;
  /** The most a request may spend waiting and running, in milliseconds; then its process group is killed. */
  timeoutMs: number;
  /** Added to the processes' nice value (0 to 19): a burst of clones yields the CPU to publishes. */
  niceness: number;
  log: Logger;
};

/** No process for this request: the queue is full. Answer 503 with `Retry-After`. */
export class GitBusyError extends Error {
  readonly retryAfterSeconds = 5;
  constructor(cause: QueueFullError) {
    super(cause.message);
    this.name = 'GitBusyError';
  }
}

/** The request was given up while it waited for a process: its client hung up, or its time ran out. */
export class GitStoppedError extends Error {
  readonly reason: 'aborted' | 'timeout';
  constructor(reason: 'aborted' | 'timeout') {
    super(reason === 'timeout' ? 'the Git request ran out of time' : 'the client hung up');
    this.name = 'GitStoppedError';
    this.reason = reason;
  }
}

/** How a process ended; `stopped` when the registry killed it (the client hung up, or it ran out of time). */
export type GitEnd = { code: number | null; signal: NodeJS.Signals | null; stopped: 'aborted' | 'timeout' | null };

export type GitRun = {
  stdin: Writable;
  stdout: Readable;
  ended: Promise<GitEnd>;
  /** Kills the process group now (as for a client that hung up). */
  kill(): void;
};

export type GitCommand = {
  args: string[];
  env: Record<string, string>;
  /** Aborted when the request is given up (its client hung up). */
  signal: AbortSignal;
  /** Fields for the log lines about this process (the repository, the service). */
  label: LogFields;
};

/** Every Git process the registry spawns to serve a request, bounded in number, time and CPU priority. */
export interface GitProcesses {
  start(command: GitCommand): Promise<GitRun>;
  counts(): { running: number; waiting: number };
  /** Kills what still runs; later starts are refused. */
  close(): void;
}

const STDERR_KEPT = 2000;

/** SIGKILL to a process group; nothing when it is gone already. */
function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Gone already.
  }
}

/**
 * Runs `git` for requests: at most `processes` at once (a `SlotQueue`), each in a process group
 * of its own (so that killing it kills what it spawned: upload-pack, pack-objects), under `nice`
 * (a niceness set before exec is inherited by every descendant; `os.setPriority` on the child
 * would race with its first fork), killed when its request is given up or its time runs out.
 * Its stderr becomes one log line when it fails.
 */
export function createGitProcesses(options: GitProcessesOptions): GitProcesses {
  const queue = new SlotQueue({ slots: options.processes, length: options.queueLength });
  const alive = new Set<ChildProcess>();
  let closed = false;

  const start = async (command: GitCommand): Promise<GitRun> => {
    if (closed) throw new GitStoppedError('aborted');
    const deadline = AbortSignal.timeout(options.timeoutMs);
    const signal = AbortSignal.any([command.signal, deadline]);
    const stopReason = () => (deadline.aborted ? 'timeout' : 'aborted');
    let release: () => void;
    try {
      release = await queue.acquire(signal);
    } catch (err) {
      if (err instanceof QueueFullError) throw new GitBusyError(err);
      throw new GitStoppedError(stopReason());
    }
    const prefix = options.niceness > 0 ? ['nice', '-n', String(options.niceness)] : [];
    const [file, ...args] = [...prefix, 'git', ...command.args] as [string, ...string[]];
    const child = spawn(file, args, { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...command.env }, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    alive.add(child);
    const started = performance.now();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < STDERR_KEPT) stderr += chunk.toString('utf8');
    });
    // A client that hung up closes these pipes under the process's feet: expected, not an error.
    child.stdin.on('error', () => {});
    child.stdout.on('error', () => {});
    let stopped: GitEnd['stopped'] = null;
    const kill = () => {
      killGroup(child.pid);
      child.stdout.destroy();
    };
    const stop = () => {
      stopped = stopReason();
      kill();
    };
    signal.addEventListener('abort', stop, { once: true });
    const ended = new Promise<GitEnd>((resolve) => {
      let done = false;
      const finish = (end: GitEnd) => {
        if (done) return;
        done = true;
        signal.removeEventListener('abort', stop);
        alive.delete(child);
        release();
        report(options.log, command.label, end, stderr, performance.now() - started);
        resolve(end);
      };
      child.once('error', (err) => {
        stderr += err.message;
        finish({ code: null, signal: null, stopped });
      });
      child.once('exit', (code, exitSignal) => finish({ code, signal: exitSignal, stopped }));
    });
    return { stdin: child.stdin, stdout: child.stdout, ended, kill };
  };

  return {
    start,
    counts: () => ({ running: queue.running, waiting: queue.waiting }),
    close() {
      closed = true;
      for (const child of alive) killGroup(child.pid);
    },
  };
}

/** One log line for a process that was stopped or failed; nothing for one that did its work. */
function report(log: Logger, label: LogFields, end: GitEnd, stderr: string, ms: number): void {
  const fields = { ...label, ms: Math.round(ms) };
  if (end.stopped) {
    log.info('git_stopped', { ...fields, reason: end.stopped });
    return;
  }
  if (end.code === 0 && stderr.trim() === '') return;
  log.warn('git_failed', { ...fields, code: end.code, signal: end.signal, stderr: oneLine(stderr) });
}

/** Git's message on one line: its lines joined, trimmed to what was kept. */
function oneLine(text: string): string {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .join(' | ')
    .slice(0, STDERR_KEPT);
}
