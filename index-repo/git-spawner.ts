import crypto from 'node:crypto';
import type net from 'node:net';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { killGroup, type AnswerEnd } from './git-answer.ts';
import type { GitSession, Service } from './upload-pack.ts';

/** A session as the spawner gets it: with `PATH` for Git, and the niceness of a process that builds a pack. */
export type SpawnerSession = GitSession & { path: string; niceness: number };

export { killGroup };

/**
 * A client's connection taken from the registry's HTTP server (gateway/git-connection.ts): its
 * TCP handle, which this process neither reads nor writes any more. It is closed here once sent.
 */
export type ConnectionHandle = { close(): void };

/** A request after the connection's first, answered in the spawner: what the request log needs of it. */
export type FollowUp = { method: string; path: string; service: Service; ms: number; end: AnswerEnd };

/** A connection in the spawner's hands: how its first request's answer ended, when the connection has closed, and a way to stop it. */
export type ServedRun = {
  answered: Promise<AnswerEnd>;
  /** Resolves once the connection is closed (after its last answer). */
  closed: Promise<void>;
  /** Kills its process group and cuts its connection now; a run whose handover never arrived ends at once. */
  stop(): void;
};

/** Answers requests through the spawner process (git-spawner-main.ts), on connections handed to it. */
export interface GitSpawner {
  /**
   * Hands `handle` to the spawner with the session and its first request's `bytes` (head, and the
   * body read so far); the handle is closed here whatever happens. `followUp` hears of each
   * later request answered on the connection.
   */
  serve(session: SpawnerSession, bytes: Uint8Array, handle: ConnectionHandle, followUp: (request: FollowUp) => void): Promise<ServedRun>;
  /** Kills every process group it knows of, and the spawner. */
  close(): void;
}

/**
 * A connection in the spawner's hands. `close` ends it: its first answer, if none came, is `end`
 * (by default, nothing sent), and its place is freed.
 */
type Run = { pid: number | null; answer(end: AnswerEnd): void; followUp(request: FollowUp): void; close(end?: AnswerEnd): void };
type Answered = { type: 'answered'; id: string; first: boolean; method: string; path: string; service: Service; ms: number } & AnswerEnd;
type Message = { type: 'ready' } | { type: 'started'; id: string; pid: number } | Answered | { type: 'ended'; id: string };

const MAIN = path.join(import.meta.dirname, 'git-spawner-main.ts');

/** The end of a run the spawner never reported on. */
const unreported = (stderr: string, signal: NodeJS.Signals | null = null): AnswerEnd => ({ code: null, signal, stderr, status: null, bytes: 0, aborted: false });

/**
 * The registry's side of the spawner: starts it on first use (and again after it died), sends
 * it each connection with its session, and pairs the spawner's reports with their runs. A run
 * whose spawner dies ends as killed.
 */
export function createGitSpawner(): GitSpawner {
  return new SpawnerClient();
}

class SpawnerClient implements GitSpawner {
  private spawner: Promise<ChildProcess> | null = null;
  private current: ChildProcess | null = null;
  private readonly runs = new Map<string, Run>();
  private closed = false;

  async serve(session: SpawnerSession, bytes: Uint8Array, handle: ConnectionHandle, followUp: (request: FollowUp) => void): Promise<ServedRun> {
    let child: ChildProcess;
    try {
      if (this.closed) throw new Error('the Git spawner is closed');
      child = await (this.spawner ??= this.launch());
    } catch (err) {
      handle.close();
      throw err;
    }
    const id = crypto.randomBytes(16).toString('hex');
    let answer: (end: AnswerEnd) => void = () => {};
    let close: () => void = () => {};
    const answered = new Promise<AnswerEnd>((resolve) => (answer = resolve));
    const closed = new Promise<void>((resolve) => (close = resolve));
    const run: Run = {
      pid: null,
      answer,
      followUp,
      close: (end = unreported('the connection closed before an answer')) => {
        this.runs.delete(id);
        answer(end);
        close();
      },
    };
    this.runs.set(id, run);
    // Node sends a TCP handle as is (SCM_RIGHTS); this process's copy is closed once it is on its way.
    child.send({ type: 'serve', id, session, bytes }, handle as unknown as net.Socket, (err) => {
      handle.close();
      if (err) run.close(unreported(`the connection could not be handed over: ${err.message}`));
    });
    return { answered, closed, stop: () => this.stop(id, child) };
  }

  close(): void {
    this.closed = true;
    for (const run of this.runs.values()) if (run.pid !== null) killGroup(run.pid);
    this.current?.kill('SIGKILL');
  }

  private stop(id: string, child: ChildProcess): void {
    const run = this.runs.get(id);
    if (!run) return;
    if (run.pid !== null) killGroup(run.pid);
    if (child.connected) child.send({ type: 'stop', id }, undefined, () => {});
    // No process running (not started, perhaps because the handover never arrived, or between two
    // requests): the run ends here; a start reported later is killed on arrival.
    if (run.pid === null) run.close(unreported('stopped before it started'));
  }

  private launch(): Promise<ChildProcess> {
    const child = spawn(process.execPath, [MAIN], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], serialization: 'advanced' });
    this.current = child;
    // Neither keeps the registry running: its HTTP server and queues decide that.
    child.unref();
    child.channel?.unref();
    child.on('message', (message: Message) => this.onMessage(message));
    child.once('exit', () => {
      if (this.current === child) this.lost();
    });
    return new Promise((resolve, reject) => {
      child.once('message', () => resolve(child));
      child.once('error', reject);
      child.once('exit', () => reject(new Error('the Git spawner exited before it was ready')));
    });
  }

  private onMessage(message: Message): void {
    if (message.type === 'ready') return;
    const run = this.runs.get(message.id);
    if (message.type === 'started') {
      if (run) run.pid = message.pid;
      else killGroup(message.pid);
      return;
    }
    if (message.type === 'ended') return run?.close();
    if (!run) return;
    // Its process has ended: nothing of this request is left to kill.
    run.pid = null;
    const { type: _type, id: _id, first, method, path, service, ms, ...end } = message;
    if (first) run.answer(end);
    else run.followUp({ method, path, service, ms, end });
  }

  /** The spawner is gone (and its connections with it): the next request starts another; every run it had ends as killed. */
  private lost(): void {
    this.spawner = null;
    this.current = null;
    for (const run of this.runs.values()) {
      if (run.pid !== null) killGroup(run.pid);
      run.close(unreported('the Git spawner exited', 'SIGKILL'));
    }
  }
}
