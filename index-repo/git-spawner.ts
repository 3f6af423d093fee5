import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';

/** A process the spawner started: its connection (its stdin and stdout), and how it ended. */
export type Spawned = { pid: number; connection: net.Socket; ended: Promise<SpawnedEnd> };
export type SpawnedEnd = { code: number | null; signal: NodeJS.Signals | null; stderr: string };

/** Starts processes through the spawner process (git-spawner-main.ts), at its lower priority. */
export interface GitSpawner {
  spawn(file: string, args: string[], env: Record<string, string>): Promise<Spawned>;
  close(): void;
}

type Pending = { started: (pid: number) => void; ended: (end: SpawnedEnd) => void; failed: (err: Error) => void };
type Message = { type: 'ready' } | { type: 'started'; id: string; pid: number } | ({ type: 'exit'; id: string } & SpawnedEnd);

const MAIN = path.join(import.meta.dirname, 'git-spawner-main.ts');

/**
 * The registry's side of the spawner: starts it on first use (and again if it died), in a
 * private temporary folder for its socket, and pairs each run's IPC messages with its
 * connection. A run whose spawner dies ends as killed.
 */
export function createGitSpawner(options: { niceness: number }): GitSpawner {
  let helper: Promise<{ child: ChildProcess; socket: string }> | null = null;
  let current: ChildProcess | null = null;
  const pending = new Map<string, Pending>();
  let closed = false;

  const launch = () => {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'gren-git-'));
    const socket = path.join(folder, 'spawner.sock');
    const child = spawn(process.execPath, [MAIN, socket, String(options.niceness)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    current = child;
    child.on('message', (message: Message) => {
      if (message.type === 'ready') return;
      const run = pending.get(message.id);
      if (message.type === 'started') run?.started(message.pid);
      else {
        pending.delete(message.id);
        run?.ended({ code: message.code, signal: message.signal, stderr: message.stderr });
      }
    });
    const ready = new Promise<{ child: ChildProcess; socket: string }>((resolve, reject) => {
      child.once('message', () => resolve({ child, socket }));
      child.once('error', reject);
      child.once('exit', () => reject(new Error('the Git spawner exited before it was ready')));
    });
    child.once('exit', () => {
      if (current === child) {
        helper = null;
        current = null;
      }
      fs.rmSync(folder, { recursive: true, force: true });
      for (const [id, run] of pending) {
        pending.delete(id);
        run.failed(new Error('the Git spawner exited'));
        run.ended({ code: null, signal: 'SIGKILL', stderr: 'the Git spawner exited' });
      }
    });
    return ready;
  };

  return {
    async spawn(file, args, env) {
      if (closed) throw new Error('the Git spawner is closed');
      helper ??= launch();
      const { child, socket } = await helper;
      const id = crypto.randomBytes(16).toString('hex');
      let resolveEnd: (end: SpawnedEnd) => void = () => {};
      const ended = new Promise<SpawnedEnd>((resolve) => (resolveEnd = resolve));
      const pid = new Promise<number>((started, failed) => pending.set(id, { started, failed, ended: (end) => (resolveEnd(end), failed(new Error(end.stderr || 'the process did not start'))) }));
      child.send({ type: 'run', id, file, args, env });
      const connection = net.connect({ path: socket, allowHalfOpen: true });
      connection.on('error', () => {});
      connection.write(`${id}\n`);
      try {
        return { pid: await pid, connection, ended };
      } catch (err) {
        connection.destroy();
        throw err;
      }
    },
    close() {
      closed = true;
      current?.kill('SIGKILL');
    },
  };
}
