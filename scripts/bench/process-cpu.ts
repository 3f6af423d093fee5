import fs from 'node:fs';
import { execFileSync } from 'node:child_process';

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
  // The command name, in parentheses, may hold spaces: the fields that count come after it.
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  let total = Number(fields[11]) + Number(fields[12]);
  for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
    const children = fs.readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
    for (const child of children === '' ? [] : children.split(' ')) total += ticks(Number(child));
  }
  return total;
}
