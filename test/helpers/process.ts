import fs from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from './registry.ts';

const repoRoot = path.resolve(import.meta.dirname, '../..');

/** A registry running as its own process, as `npm start` runs it. */
export type RegistryProcess = {
  process: ChildProcess;
  url: string;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code (or signal) once the process has ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends a signal and waits for the process to end. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
};

/** Spawns `node scripts/start.ts` with `env` (PORT, HOST and REGISTRY_URL filled in) without waiting for it. */
export function spawnRegistry(env: Record<string, string>): Promise<RegistryProcess> {
  return spawnServer('scripts/start.ts', env, (url) => ({ REGISTRY_URL: url }));
}

/** Spawns a read replica, `node scripts/replica.ts`, with `env` (PORT and HOST filled in) without waiting for it. */
export function spawnReplica(env: Record<string, string>): Promise<RegistryProcess> {
  return spawnServer('scripts/replica.ts', env, () => ({}));
}

async function spawnServer(script: string, env: Record<string, string>, own: (url: string) => Record<string, string>): Promise<RegistryProcess> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [script], {
    cwd: repoRoot,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', ...own(url), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const chunks: string[] = [];
  child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return {
    process: child,
    url,
    output: () => chunks.join(''),
    exited,
    stop(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Spawns the registry and waits until it answers /healthz (20 s at most). */
export async function startRegistryProcess(env: Record<string, string>): Promise<RegistryProcess> {
  return answering(await spawnRegistry(env), (res) => res.ok);
}

/** Spawns a read replica and waits until it listens (its /healthz answers, 503 until it has a state to serve). */
export async function startReplicaProcess(env: Record<string, string>): Promise<RegistryProcess> {
  return answering(await spawnReplica(env), (res) => res.status === 200 || res.status === 503);
}

/** Waits until a server process's /healthz answers as `ready` says (20 s at most); stops it and throws otherwise. */
async function answering(child: RegistryProcess, ready: (res: Response) => boolean): Promise<RegistryProcess> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.process.exitCode !== null) throw new Error(`the process exited: ${child.output()}`);
    try {
      if (ready(await fetch(`${child.url}/healthz`))) return child;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await child.stop();
      throw new Error(`the process did not start: ${child.output()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export type ScriptRun = { code: number | null; stdout: string; stderr: string };

/**
 * Runs one of the registry's scripts (`scripts/<name>`) as a person would, with only PATH (and
 * `env`) in its environment, and resolves with its exit code and output.
 */
export function runScript(name: string, args: string[], env: Record<string, string> = {}): Promise<ScriptRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(repoRoot, 'scripts', name), ...args], { env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A process's resident memory (VmRSS of /proc/<pid>/status), in bytes. */
export function residentBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  if (kib === undefined) throw new Error(`no VmRSS for process ${pid}`);
  return Number(kib) * 1024;
}
