import type { ExecutionContext } from 'ava';
import fs from 'node:fs';
import { bundle } from './bundle.ts';
import { publisher, published } from './fixtures.ts';
import { startRegistryWithMail, type MailRegistry } from './accounts.ts';
import { hangingGitFetch } from './git.ts';
import { descendants } from '../../scripts/bench/process-tree.ts';
import type { GitProcesses } from '../../index-repo/git-processes.ts';

/**
 * The Git processes serving this test's registry (its children): one `git http-backend` per
 * request, leading the process group of what it runs (upload-pack, pack-objects; a child
 * between its fork and its exec still reads as http-backend, but is no group's leader).
 */
export function servingProcesses(): Array<{ pid: number; nice: number | null }> {
  const found: Array<{ pid: number; nice: number | null }> = [];
  for (const pid of descendants(process.pid)) {
    try {
      const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      // `nice -n 10 git http-backend` until nice execs git, in the same process.
      if (!argv.includes('http-backend')) continue;
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) !== pid) continue;
      // Its nice value counts once git runs: `nice` itself lowers it just before its exec.
      found.push({ pid, nice: argv[1] === 'http-backend' ? Number(fields[16]) : null });
    } catch {
      // Ended while being looked at.
    }
  }
  return found;
}

/** Samples the serving processes every few milliseconds until stopped: the most alive at once, and every nice value seen. */
export function watchProcesses(): { stop(): { most: number; nice: Set<number> } } {
  let most = 0;
  const nice = new Set<number>();
  const timer = setInterval(() => {
    const alive = servingProcesses();
    most = Math.max(most, alive.length);
    for (const p of alive) if (p.nice !== null) nice.add(p.nice);
  }, 3);
  return {
    stop() {
      clearInterval(timer);
      return { most, nice };
    },
  };
}

/** The registry's spawner processes (git-spawner-main.ts). */
export function spawners(): number[] {
  return descendants(process.pid).filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('git-spawner-main.ts');
    } catch {
      return false;
    }
  });
}

/** Polls `condition` every 5 ms; fails the test after `timeoutMs`. Answers the milliseconds waited. */
export async function waitUntil(t: ExecutionContext, what: string, condition: () => boolean, timeoutMs = 10_000): Promise<number> {
  const started = performance.now();
  while (!condition()) {
    if (performance.now() - started > timeoutMs) t.fail(`${what}: not within ${timeoutMs} ms`);
    if (performance.now() - started > timeoutMs) return timeoutMs;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return performance.now() - started;
}

/** A fetch of the served package whose body never ends, holding a Git process. */
export const hangingFetch = (reg: MailRegistry) => hangingGitFetch(reg.url, '/git/acme/served.git');

/** A registry (closed with the test) with one package, `acme/served` 1.0.0, published by `token`, its bundle `padding` bytes heavier. */
export async function servingRegistry(t: ExecutionContext, env: Record<string, string>, padding = 0): Promise<{ reg: MailRegistry; token: string }> {
  const reg = await startRegistryWithMail({ env });
  t.teardown(() => reg.close());
  const token = await publisher(reg, 'owner@example.com', ['acme']);
  await published(reg.url, token, 'acme/served', '1.0.0', bundle({ name: 'acme/served', version: '1.0.0', padding }));
  return { reg, token };
}

/** Calls `then` each time the gateway has taken a connection to hand to the spawner, in the turn it is sent. */
export function onHandover(git: GitProcesses, then: () => void): void {
  const serve = git.serve;
  git.serve = (command) =>
    serve({
      ...command,
      connect: async (signal) => {
        const connection = await command.connect(signal);
        then();
        return connection;
      },
    });
}
