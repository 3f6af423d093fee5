import { spawn, type ChildProcess } from 'node:child_process';

/** A server under test: its process, what it said on stderr, and each line of its stdout when asked for. */
export type ServerProcess = { child: ChildProcess; stderr: string[] };

/**
 * Starts a server with `env` over this process's environment. Its stdout is ignored unless
 * `onLine` is given, which then receives each line (the registry's log, one JSON event a line).
 */
export function spawnServer(command: string, argv: string[], options: { cwd: string; env: Record<string, string>; onLine?: (line: string) => void }): ServerProcess {
  const { onLine } = options;
  const child = spawn(command, argv, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', onLine ? 'pipe' : 'ignore', 'pipe'] });
  const stderr: string[] = [];
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  if (onLine) {
    let pending = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      const lines = (pending + chunk.toString()).split('\n');
      pending = lines.pop() as string;
      for (const line of lines) onLine(line);
    });
  }
  return { child, stderr };
}

/** Waits until `url` answers below 500, or fails with the end of what the server said. */
export async function waitUntilAnswering(url: string, server: ServerProcess): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (server.child.exitCode !== null) throw new Error(`the server exited: ${server.stderr.join('').slice(-2000)}`);
    try {
      if ((await fetch(url)).status < 500) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`the server did not start: ${server.stderr.join('').slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** SIGKILL, as a crash or a power cut would stop it; resolves once the process is gone. */
export function killNow(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}
