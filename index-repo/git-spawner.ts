import crypto from 'node:crypto';
import type net from 'node:net';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { killGroup, type AnswerEnd, type AnswerRequest } from './git-answer.ts';

export { killGroup };

/**
 * A client's connection taken from the registry's HTTP server (gateway/git-connection.ts): its
 * TCP handle, which this process neither reads nor writes any more. It is closed here once sent.
 */
export type ConnectionHandle = { close(): void };

/** A request the spawner answers: how it ended, and a way to stop it. */
export type ServedRun = {
  ended: Promise<AnswerEnd>;
  /** Kills its process group and cuts its connection now; a run whose handover never arrived ends at once. */
  stop(): void;
};

/** A request for the spawner: the answer's, and how much lower than the registry's its process's CPU priority is (nice). */
export type SpawnRequest = AnswerRequest & { niceness: number };

/** Answers requests through the spawner process (git-spawner-main.ts), on connections handed to it. */
export interface GitSpawner {
  /** Hands `handle` to the spawner with the request; the handle is closed here whatever happens. */
  serve(request: SpawnRequest, handle: ConnectionHandle): Promise<ServedRun>;
  /** Kills every process group it knows of, and the spawner. */
  close(): void;
}

type Run = { pid: number | null; end(end: AnswerEnd): void };
type Message = { type: 'ready' } | { type: 'started'; id: string; pid: number } | ({ type: 'ended'; id: string } & AnswerEnd);

const MAIN = path.join(import.meta.dirname, 'git-spawner-main.ts');

/** The end of a run the spawner never reported on. */
const unreported = (stderr: string, signal: NodeJS.Signals | null = null): AnswerEnd => ({ code: null, signal, stderr, status: null, bytes: 0, aborted: false });

/**
 * The registry's side of the spawner: starts it on first use (and again after it died), sends
 * it each request with its connection, and pairs the spawner's reports with their runs. A run
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

  async serve(request: SpawnRequest, handle: ConnectionHandle): Promise<ServedRun> {
    let child: ChildProcess;
    try {
      if (this.closed) throw new Error('the Git spawner is closed');
      child = await (this.spawner ??= this.launch());
    } catch (err) {
      handle.close();
      throw err;
    }
    const id = crypto.randomBytes(16).toString('hex');
    let settle: (end: AnswerEnd) => void = () => {};
    const ended = new Promise<AnswerEnd>((resolve) => (settle = resolve));
    const run: Run = {
      pid: null,
      end: (end) => {
        this.runs.delete(id);
        settle(end);
      },
    };
    this.runs.set(id, run);
    // Node sends a TCP handle as is (SCM_RIGHTS); this process's copy is closed once it is on its way.
    child.send({ type: 'serve', id, ...request }, handle as unknown as net.Socket, (err) => {
      handle.close();
      if (err) run.end(unreported(`the connection could not be handed over: ${err.message}`));
    });
    return { ended, stop: () => this.stop(id, child) };
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
    // Not started: perhaps the handover never arrived (a handle the spawner could not take); a
    // start reported later is killed on arrival.
    if (run.pid === null) run.end(unreported('stopped before it started'));
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
    const { type: _type, id: _id, ...end } = message;
    run?.end(end);
  }

  /** The spawner is gone (and its connections with it): the next request starts another; every run it had ends as killed. */
  private lost(): void {
    this.spawner = null;
    this.current = null;
    for (const run of this.runs.values()) {
      if (run.pid !== null) killGroup(run.pid);
      run.end(unreported('the Git spawner exited', 'SIGKILL'));
    }
  }
}
