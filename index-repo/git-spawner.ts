import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';

/** A process the spawner started: its connection (its stdin and stdout), and how it ended. */
export type Spawned = { pid: number; connection: net.Socket; ended: Promise<SpawnedEnd> };
export type SpawnedEnd = { code: number | null; signal: NodeJS.Signals | null; stderr: string };

/** Starts processes through the spawner process (git-spawner-main.ts), in process groups of their own. */
export interface GitSpawner {
  /** Rejects with `signal.reason` when it aborts first; a process started anyway is then killed. */
  spawn(file: string, args: string[], env: Record<string, string>, signal: AbortSignal): Promise<Spawned>;
  close(): void;
}

type Run = { started(pid: number): void; ended(end: SpawnedEnd): void };
type Message = { type: 'ready' } | { type: 'started'; id: string; pid: number } | ({ type: 'exit'; id: string } & SpawnedEnd);
type SpawnerProcess = { child: ChildProcess; socket: string };

const MAIN = path.join(import.meta.dirname, 'git-spawner-main.ts');

/** The spawner's socket could not be reached. */
class SocketLost extends Error {
  readonly spawner: ChildProcess;
  constructor(spawner: ChildProcess) {
    super("the Git spawner's socket is gone");
    this.name = 'SocketLost';
    this.spawner = spawner;
  }
}

/** Resolves once a process has exited. */
function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** SIGKILL to a process group; nothing when it is gone already. */
export function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Gone already.
  }
}

/**
 * The registry's side of the spawner: starts it on first use (and again after it died, or lost
 * its socket), with its socket in a temporary folder only this user can enter, and pairs each
 * run's IPC messages with its connection. A run whose spawner dies ends as killed.
 */
export function createGitSpawner(options: { niceness: number }): GitSpawner {
  return new SpawnerClient(options.niceness);
}

class SpawnerClient implements GitSpawner {
  private readonly niceness: number;
  private spawner: Promise<SpawnerProcess> | null = null;
  private current: ChildProcess | null = null;
  /** The private folder of the current spawner's socket. */
  private folder: string | null = null;
  private readonly runs = new Map<string, Run>();
  private closed = false;

  constructor(niceness: number) {
    this.niceness = niceness;
  }

  async spawn(file: string, args: string[], env: Record<string, string>, signal: AbortSignal): Promise<Spawned> {
    if (this.closed) throw new Error('the Git spawner is closed');
    try {
      return await this.attempt(file, args, env, signal);
    } catch (err) {
      // A spawner whose socket went (a temporary folder cleaned away) is replaced, once.
      if (!(err instanceof SocketLost)) throw err;
      await exited(err.spawner);
      return this.attempt(file, args, env, signal);
    }
  }

  close(): void {
    this.closed = true;
    this.current?.kill('SIGKILL');
    // Now: the registry's process may end before it hears of the spawner's exit.
    if (this.folder) fs.rmSync(this.folder, { recursive: true, force: true });
  }

  /** One attempt: the run over IPC, its id over the socket; rejects with `SocketLost` when the socket is gone. */
  private async attempt(file: string, args: string[], env: Record<string, string>, signal: AbortSignal): Promise<Spawned> {
    this.spawner ??= this.launch();
    const { child, socket } = await this.spawner;
    const id = crypto.randomBytes(16).toString('hex');
    const connection = net.connect({ path: socket, allowHalfOpen: true });
    const spawned = this.awaitStart(id, connection, signal, child);
    child.send({ type: 'run', id, file, args, env });
    connection.write(`${id}\n`);
    try {
      return await spawned;
    } catch (err) {
      connection.destroy();
      throw err;
    }
  }

  /** Resolves when the spawner says the run started; rejects when it could not, or the signal aborts first. */
  private awaitStart(id: string, connection: net.Socket, signal: AbortSignal, child: ChildProcess): Promise<Spawned> {
    return new Promise<Spawned>((resolve, reject) => {
      let resolveEnd: (end: SpawnedEnd) => void = () => {};
      const ended = new Promise<SpawnedEnd>((done) => (resolveEnd = done));
      const abandon = () => reject(signal.reason);
      signal.addEventListener('abort', abandon, { once: true });
      let started = false;
      this.runs.set(id, {
        started(pid) {
          started = true;
          signal.removeEventListener('abort', abandon);
          if (signal.aborted) killGroup(pid);
          resolve({ pid, connection, ended });
        },
        ended(end) {
          signal.removeEventListener('abort', abandon);
          resolveEnd(end);
          reject(new Error(`git did not start: ${end.stderr}`));
        },
      });
      // Once the process runs, an error (its client gone) is its caller's to see as a closed stream.
      connection.on('error', () => {
        if (started || !this.runs.delete(id)) return;
        signal.removeEventListener('abort', abandon);
        reject(new SocketLost(child));
        if (this.current === child) child.kill('SIGKILL');
      });
    });
  }

  private launch(): Promise<SpawnerProcess> {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'gren-git-'));
    const socket = path.join(folder, 'spawner.sock');
    this.folder = folder;
    const child = spawn(process.execPath, [MAIN, socket, String(this.niceness)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    this.current = child;
    // Neither keeps the registry running: its HTTP server and queues decide that.
    child.unref();
    child.channel?.unref();
    child.on('message', (message: Message) => this.onMessage(message));
    child.once('exit', () => {
      fs.rmSync(folder, { recursive: true, force: true });
      if (this.current === child) this.lost();
    });
    return new Promise((resolve, reject) => {
      child.once('message', () => resolve({ child, socket }));
      child.once('error', reject);
      child.once('exit', () => reject(new Error('the Git spawner exited before it was ready')));
    });
  }

  private onMessage(message: Message): void {
    if (message.type === 'ready') return;
    const run = this.runs.get(message.id);
    if (message.type === 'started') return run?.started(message.pid);
    this.runs.delete(message.id);
    run?.ended({ code: message.code, signal: message.signal, stderr: message.stderr });
  }

  /** The spawner is gone: the next run starts another; every run it had ends as killed. */
  private lost(): void {
    this.spawner = null;
    this.current = null;
    for (const [id, run] of this.runs) {
      this.runs.delete(id);
      run.ended({ code: null, signal: 'SIGKILL', stderr: 'the Git spawner exited' });
    }
  }
}
