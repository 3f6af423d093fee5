import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { startRegistryWithMail, readLoginMail, type MailRegistry } from './accounts.ts';
import { tempDir } from './registry.ts';

/** The client's entry point, run as a person runs it. */
export const clientScript = path.resolve(import.meta.dirname, '../../scripts/gren-registry.ts');

export type Run = { code: number | null; stdout: string; stderr: string };

/** The client as a person starts it: its own process, HOME in a temporary folder, stdin left open. */
export function startClient(args: string[], options: { home: string; registry?: string; env?: Record<string, string>; cwd?: string }) {
  const child = spawn(process.execPath, [clientScript, ...args], {
    ...(options.cwd ? { cwd: options.cwd } : {}),
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: options.home,
      ...(options.registry ? { GREN_REGISTRY: options.registry } : {}),
      ...options.env,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const done = new Promise<Run>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
  return { child, done, type: (line: string) => child.stdin.write(`${line}\n`), output: () => ({ stdout, stderr }) };
}

/** Runs the client to its end with `input` typed on stdin (then closed). */
export function runClient(args: string[], options: { home: string; registry?: string; env?: Record<string, string>; input?: string; cwd?: string }): Promise<Run> {
  const started = startClient(args, options);
  started.child.stdin.end(options.input ?? '');
  return started.done;
}

/** Waits until `check` holds, polling every 20 ms. */
export async function eventually(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export type World = { reg: MailRegistry; home: string; run(args: string[], extra?: { input?: string; env?: Record<string, string>; cwd?: string }): Promise<Run> };

/** A registry with mail, a HOME for the client, and `run` to start the client against them. */
export async function world(t: { teardown(fn: () => unknown): void }): Promise<World> {
  const reg = await startRegistryWithMail();
  t.teardown(() => reg.close());
  const home = tempDir('gren-home-');
  t.teardown(() => fs.rmSync(home, { recursive: true, force: true }));
  return { reg, home, run: (args, extra = {}) => runClient(args, { home, registry: reg.url, ...extra }) };
}

/** Logs in through the client: waits for the mail, types the code at the prompt. */
export async function logIn(w: World, email: string): Promise<Run> {
  const client = startClient(['login', email], { home: w.home, registry: w.reg.url });
  const { code } = readLoginMail(await w.reg.smtp.waitForMail(email));
  client.type(code);
  const run = await client.done;
  if (run.code !== 0) throw new Error(`login failed: ${run.stderr}`);
  return run;
}

/** Where the client saves its logins. */
export function userFile(home: string): string {
  return path.join(home, '.gren', 'user');
}
