import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { descendants } from './process-tree.ts';

let ticksPerSecond: number | null = null;

/**
 * CPU seconds (user and system) a process and its child processes (nginx's worker) have used
 * so far, from /proc; null where /proc is missing. Unlike requests per second, CPU time per
 * request hardly moves when other programs share the machine.
 */
export function cpuSeconds(pid: number): number | null {
  try {
    ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    return ticks(pid) / ticksPerSecond;
  } catch {
    return null;
  }
}

function ticks(pid: number): number {
  let total = 0;
  for (const each of [pid, ...descendants(pid)]) {
    // The command name, in parentheses, may hold spaces: the fields that count come after it.
    const fields = fs.readFileSync(`/proc/${each}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    total += Number(fields[11]) + Number(fields[12]);
  }
  return total;
}
