import fs from 'node:fs';
import path from 'node:path';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const PID_FILE = 'repack.pid';

/** Whether the `git` command is on this machine (packing for clones needs it; nothing else does). */
export async function gitAvailable(): Promise<boolean> {
  try {
    await run('git', ['--version']);
    return true;
  } catch {
    return false;
  }
}

/**
 * Packs loose objects and folds small packs together, so that a clone over plain HTTP takes a
 * few requests. `--geometric=2` keeps the number of packs logarithmic without rewriting the big
 * ones each time; `-d` drops what the new pack holds; `-n` leaves `objects/info/packs` to the
 * registry, which rewrites it inside its commit queue. Git flushes the new pack before anything
 * is dropped. This runs off the write path: commits go on while it packs. The process runs in
 * a group of its own whose id is kept in `repack.pid`, so that a registry started after this
 * one was killed can stop a repack still running (see `stopStaleRepack`).
 */
export async function repack(gitDir: string): Promise<void> {
  const args = ['-c', 'core.fsync=all', '-c', 'core.fsyncMethod=fsync', '-c', 'repack.writeBitmaps=false', '-c', 'gc.auto=0',
    '--git-dir', gitDir, 'repack', '-d', '-n', '-q', '--geometric=2'];
  const child = spawn('git', args, { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  const pidFile = path.join(gitDir, PID_FILE);
  if (child.pid) fs.writeFileSync(pidFile, `${child.pid}\n`);
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  try {
    await new Promise<void>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`git repack failed (${signal ?? code}): ${stderr.trim()}`))));
    });
  } finally {
    fs.rmSync(pidFile, { force: true });
  }
}

function isRepackOf(pid: number, gitDir: string): boolean {
  try {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return cmdline.includes('repack') && cmdline.includes(gitDir);
  } catch {
    return false;
  }
}

/**
 * Stops a repack left running by a registry process that was killed, before anything looks at
 * the packs: while it runs, a pack may be in place a moment before its index. Its process
 * group is ended with SIGTERM (git then removes its temporary files), and SIGKILL if it lingers.
 * Returns whether there was one.
 */
export async function stopStaleRepack(gitDir: string): Promise<boolean> {
  const pidFile = path.join(gitDir, PID_FILE);
  let pid: number;
  try {
    pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
  } catch {
    return false;
  }
  const found = Number.isInteger(pid) && pid > 0 && isRepackOf(pid, gitDir);
  if (found) {
    const deadline = Date.now() + 10_000;
    let signal: NodeJS.Signals = 'SIGTERM';
    while (isRepackOf(pid, gitDir)) {
      if (Date.now() > deadline) signal = 'SIGKILL';
      try {
        process.kill(-pid, signal);
      } catch {
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  fs.rmSync(pidFile, { force: true });
  return found;
}
