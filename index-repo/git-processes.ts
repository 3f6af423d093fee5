import type { Readable, Writable } from 'node:stream';
import type { LogFields, Logger } from '../gateway/log.ts';
import { QueueFullError, SlotQueue } from './slot-queue.ts';
import { createGitSpawner, killGroup } from './git-spawner.ts';

export type GitProcessesOptions = {
  /** Git processes running at once; the rest wait in the queue. */
  processes: number;
  /** Requests that may wait for a process; one more is refused (`GitBusyError`). */
  queueLength: number;
  /** The most a request may spend waiting and running, in milliseconds; then its process group is killed. */
  timeoutMs: number;
  /** How much lower than the registry's the processes' CPU priority is (nice): a burst of clones yields the CPU to publishes. */
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

/**
 * Runs `git` for requests: at most `processes` at once (a `SlotQueue`), each started by the
 * spawner process (git-spawner.ts: a fork there does not stall the registry's event loop) under
 * `nice`, in a process group of its own so that killing it kills what it spawned (upload-pack,
 * pack-objects), killed when its request is given up or its time runs out. Its stderr becomes
 * one log line when it fails.
 */
export function createGitProcesses(options: GitProcessesOptions): GitProcesses {
  const queue = new SlotQueue({ slots: options.processes, length: options.queueLength });
  const spawner = createGitSpawner({ niceness: options.niceness });
  const alive = new Set<number>();
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
    const started = performance.now();
    let spawned;
    try {
      spawned = await spawner.spawn('git', command.args, { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...command.env }, signal);
    } catch (err) {
      release();
      throw signal.aborted ? new GitStoppedError(stopReason()) : err;
    }
    const { pid, connection } = spawned;
    alive.add(pid);
    let stopped: GitEnd['stopped'] = null;
    const kill = () => {
      killGroup(pid);
      connection.destroy();
    };
    const stop = () => {
      stopped = stopReason();
      kill();
    };
    if (signal.aborted) stop();
    else signal.addEventListener('abort', stop, { once: true });
    const ended = spawned.ended.then(({ code, signal: exitSignal, stderr }) => {
      signal.removeEventListener('abort', stop);
      alive.delete(pid);
      release();
      const end: GitEnd = { code, signal: exitSignal, stopped };
      report(options.log, command.label, end, stderr, performance.now() - started);
      return end;
    });
    return { stdin: connection, stdout: connection, ended, kill };
  };

  return {
    start,
    counts: () => ({ running: queue.running, waiting: queue.waiting }),
    close() {
      closed = true;
      for (const pid of alive) killGroup(pid);
      spawner.close();
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
