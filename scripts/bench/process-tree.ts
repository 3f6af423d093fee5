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
