import type { LogFields, Logger } from './types.ts';
import type { AnswerEnd } from './git-answer.ts';
import { QueueFullError, SlotQueue } from './slot-queue.ts';
import { createGitSpawner, type ConnectionHandle, type FollowUp, type ServedRun } from './git-spawner.ts';
import type { GitSession } from './upload-pack.ts';
import { gitPath } from './git-command.ts';

export type GitProcessesOptions = {
  /**
   * Connections answered at once, each by one Git process at a time; the rest wait in the queue.
   * A connection keeps its place for its client's next request until it closes (at most
   * `FOLLOW_UP_MS` after an answer).
   */
  processes: number;
  /** Requests that may wait for a process; one more is refused (`GitBusyError`). */
  queueLength: number;
  /**
   * The most a request may spend waiting and running, in milliseconds, the requests that follow it
   * on its connection included; then its process group is killed and its connection cut.
   */
  timeoutMs: number;
  /**
   * How much lower than the registry's the CPU priority of a process that builds a pack is (nice):
   * a burst of clones yields the CPU to publishes. A request that only lists refs keeps the
   * registry's priority (see `GitCommand.listsRefsOnly`).
   */
  niceness: number;
  log: Logger;
  /** Hears of each request answered on a connection after its first (the gateway logs and counts that one itself). */
  followUp?: (request: FollowUp & { stopped: GitEnd['stopped'] }) => void;
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

/**
 * How a request's answer ended: its process's exit, the status sent (null: none), the bytes of
 * the body sent, and `stopped` when it was cut short (its client left, its time ran out, or the
 * registry closed).
 */
export type GitEnd = { code: number | null; signal: NodeJS.Signals | null; stopped: 'aborted' | 'timeout' | 'closed' | null; status: number | null; bytes: number };

/** The client's connection, taken from the HTTP server once a process is granted: its handle, and its first request's bytes (head, and the body read so far). */
export type GitConnection = { handle: ConnectionHandle; bytes: Uint8Array };

export type GitCommand = {
  /** The repository, its reader's view and credentials, and the registry's own answers. */
  session: GitSession;
  /** Aborted when the client hangs up while the request is still the registry's (waiting, or its body being read). */
  signal: AbortSignal;
  /** Fields for the log lines about this process (the repository, the service). */
  label: LogFields;
  /** Called once a process is granted: reads what the registry must of the request, then takes its connection. */
  connect(signal: AbortSignal): Promise<GitConnection>;
};

/** Every Git process the registry has run to serve a request, bounded in number, time and CPU priority. */
export interface GitProcesses {
  /**
   * Serves one request: waits for a process (rejects with `GitBusyError` when the queue is full,
   * `GitStoppedError` when the client leaves or the time runs out first), takes the connection
   * (`connect`), and has the spawner answer on it. Resolves once the answer has ended.
   */
  serve(command: GitCommand): Promise<GitEnd>;
  counts(): { running: number; waiting: number };
  /** Resolves once no connection is in the spawner's hands (requests still waiting are the HTTP server's). */
  settled(): Promise<void>;
  /** Kills what still runs, and its connections; later requests are refused. */
  close(): void;
}

const STDERR_KEPT = 2000;

/**
 * Serves Git requests: at most `processes` connections at once (a `SlotQueue`), each answered by
 * the spawner process (git-spawner.ts) on the client's own connection, with Git (under `nice` when
 * it builds a pack) in a process group of its own so that killing it kills what it spawned
 * (upload-pack, pack-objects). The
 * spawner kills it when its client leaves; this side, when its time runs out. Its stderr becomes
 * one log line when it fails.
 */
export function createGitProcesses(options: GitProcessesOptions): GitProcesses {
  const queue = new SlotQueue({ slots: options.processes, length: options.queueLength });
  const spawner = createGitSpawner();
  let handedOff = 0;
  const whenSettled: Array<() => void> = [];
  let closed = false;

  const serve = async (command: GitCommand): Promise<GitEnd> => {
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
    let timedOut = false;
    const stoppedBy = (answered: AnswerEnd): GitEnd['stopped'] => (timedOut ? 'timeout' : answered.aborted ? 'aborted' : closed ? 'closed' : null);
    let run: ServedRun;
    try {
      const { handle, bytes } = await command.connect(signal);
      const session = { ...command.session, path: gitPath(), niceness: options.niceness };
      run = await spawner.serve(session, bytes, handle, (request) => {
        const stopped = stoppedBy(request.end);
        report(options.log, { ...command.label, service: request.service }, stopped, request.end, request.ms);
        options.followUp?.({ ...request, stopped });
      });
    } catch (err) {
      release();
      throw signal.aborted ? new GitStoppedError(stopReason()) : err;
    }
    handedOff++;
    // The connection is the spawner's: only the time limit is still this side's to enforce.
    const onTimeout = () => {
      timedOut = true;
      run.stop();
    };
    if (deadline.aborted) onTimeout();
    else deadline.addEventListener('abort', onTimeout, { once: true });
    // The place is the connection's until it closes: its client's next requests are answered on it.
    void run.closed.then(() => {
      deadline.removeEventListener('abort', onTimeout);
      release();
      if (--handedOff === 0) for (const resolve of whenSettled.splice(0)) resolve();
    });
    const answered = await run.answered;
    const stopped = stoppedBy(answered);
    report(options.log, command.label, stopped, answered, performance.now() - started);
    return { code: answered.code, signal: answered.signal, status: answered.status, bytes: answered.bytes, stopped };
  };

  return {
    serve,
    counts: () => ({ running: queue.running, waiting: queue.waiting }),
    settled: () => (handedOff === 0 ? Promise.resolve() : new Promise((resolve) => whenSettled.push(resolve))),
    close() {
      closed = true;
      spawner.close();
    },
  };
}

/** One log line for a process that was stopped or failed; nothing for one that did its work. */
function report(log: Logger, label: LogFields, stopped: GitEnd['stopped'], end: AnswerEnd, ms: number): void {
  const fields = { ...label, ms: Math.round(ms) };
  if (stopped) {
    log.info('git_stopped', { ...fields, reason: stopped, bytes: end.bytes });
    return;
  }
  if (end.code === 0 && end.stderr.trim() === '') return;
  log.warn('git_failed', { ...fields, code: end.code, signal: end.signal, stderr: oneLine(end.stderr) });
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
