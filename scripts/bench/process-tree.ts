import fs from 'node:fs';

/** A process's descendants (children first, then theirs), from /proc; empty where /proc is missing. */
export function descendants(pid: number): number[] {
  const found: number[] = [];
  let tasks: string[] = [];
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return found;
  }
  for (const task of tasks) {
    let children = '';
    try {
      children = fs.readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
    } catch {
      continue;
    }
    for (const child of children === '' ? [] : children.split(' ').map(Number)) found.push(child, ...descendants(child));
  }
  return found;
}

/** SIGKILL to each of `pids` still there. */
export function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
}

/**
 * However this process ends (its end, an error, Ctrl-C), kills every process it started and
 * theirs, then runs `cleanUp` (removing the run's folders): no server of a benchmark run
 * outlives it, nor its data.
 */
export function cleanUpAtExit(cleanUp: () => void): void {
  process.on('exit', () => {
    killAll(descendants(process.pid));
    cleanUp();
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));
}

/** The arguments of a process's command line; empty when it is gone. */
function commandLine(pid: number): string[] {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

/**
 * Waits until no descendant of `pid` has a command line that `busy` accepts, and none has for
 * `quietMs` in a row: background work (a repack) that a server started has ended. Gives up
 * after `timeoutMs`. Resolves to the milliseconds from the call to the last moment such work
 * was seen (0 when none was).
 */
export async function waitUntilQuiet(pid: number, busy: (args: string[]) => boolean, { quietMs, timeoutMs }: { quietMs: number; timeoutMs: number }): Promise<number> {
  const started = performance.now();
  let lastBusy: number | null = null;
  for (;;) {
    const now = performance.now();
    if (descendants(pid).some((child) => busy(commandLine(child)))) lastBusy = now;
    else if (now - (lastBusy ?? started) >= quietMs) return lastBusy === null ? 0 : Math.round(lastBusy - started);
    if (now - started > timeoutMs) throw new Error(`background work of process ${pid} still running after ${Math.round(timeoutMs / 1000)} s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
