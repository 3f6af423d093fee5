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

/** Settings for every maintenance command: flushed output, no bitmaps, no automatic gc. */
const GIT_SETTINGS = ['-c', 'core.fsync=all', '-c', 'core.fsyncMethod=fsync', '-c', 'repack.writeBitmaps=false', '-c', 'gc.auto=0'];

/**
 * Runs one maintenance command of `git` (with `settings`, `-c` pairs, beside the usual ones) in a process group of its own whose id is kept in
 * `repack.pid`, so that a registry started after this one was killed can stop it (see
 * `stopStaleRepack`) before looking at the packs.
 */
async function runMaintenance(gitDir: string, command: string[], settings: string[] = []): Promise<void> {
  const child = spawn('git', [...GIT_SETTINGS, ...settings, '--git-dir', gitDir, ...command], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  const pidFile = path.join(gitDir, PID_FILE);
  if (child.pid) fs.writeFileSync(pidFile, `${child.pid}\n`);
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  try {
    await new Promise<void>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`git ${command[0]} failed (${signal ?? code}): ${stderr.trim()}`))));
    });
  } finally {
    fs.rmSync(pidFile, { force: true });
  }
}

/**
 * Packs loose objects and folds small packs together, so that a clone takes few objects from
 * few packs. `--geometric=2` keeps the number of packs logarithmic without rewriting the big
 * ones each time; `-d` drops what the new pack holds (every object of the packs it folds,
 * reachable or not); `-n` writes no files for Git's dumb HTTP protocol, which is not served.
 * Git flushes the new pack before anything is dropped. This runs off the
 * write path: commits go on while it packs.
 *
 * Nearly all of its time is the search for deltas among the new objects (1.6 s of CPU against
 * 0.08 s without, for 250 publishes of 30 KB bundles): `deltas: false` skips it (`pack.window=0`),
 * to fold packs cheaply while publishes keep the machine busy. Objects stored whole are searched
 * again when a later repack rewrites their pack.
 */
export async function repack(gitDir: string, options: { deltas: boolean } = { deltas: true }): Promise<void> {
  await runMaintenance(gitDir, ['repack', '-d', '-n', '-q', '--geometric=2'], options.deltas ? [] : ['-c', 'pack.window=0']);
}

/**
 * Removes from disk every object no ref reaches: `git repack -a -d` writes one pack of what the
 * refs reach and deletes every other pack (those of commits under way have a `.keep` file and
 * are left alone), then `git prune` removes unreachable loose objects. After it, an object of a
 * deleted ref is in no file of the repository.
 */
export async function purgeUnreachable(gitDir: string): Promise<void> {
  await runMaintenance(gitDir, ['repack', '-a', '-d', '-n', '-q']);
  await runMaintenance(gitDir, ['prune', '--expire=now']);
}

function isRepackOf(pid: number, gitDir: string): boolean {
  try {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return (cmdline.includes('repack') || cmdline.includes('prune')) && cmdline.includes(gitDir);
  } catch {
    return false;
  }
}

/**
 * Git maintenance processes working on this repository, found by their command lines: a
 * registry killed between starting one and writing its pid file leaves one that no file names.
 */
function maintenanceProcesses(gitDir: string): number[] {
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return [];
  }
  return entries
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => pid !== process.pid && isRepackOf(pid, gitDir));
}

/**
 * Stops the Git maintenance (a repack, a prune) left running by a registry process that was
 * killed, before anything looks at the packs: while it runs, a pack may stand in place a moment
 * before its index, or go while it is being read. The processes are those `repack.pid` names and
 * any other whose command line works on this repository; each one's process group is ended with
 * SIGTERM (git then removes its temporary files), and SIGKILL if it lingers. Returns whether
 * there was any.
 */
export async function stopStaleRepack(gitDir: string): Promise<boolean> {
  const pidFile = path.join(gitDir, PID_FILE);
  const stale = new Set(maintenanceProcesses(gitDir));
  try {
    const named = Number(fs.readFileSync(pidFile, 'utf8').trim());
    if (Number.isInteger(named) && named > 0 && isRepackOf(named, gitDir)) stale.add(named);
  } catch {
    // No pid file: only what the command lines show.
  }
  const deadline = Date.now() + 10_000;
  for (let alive = [...stale]; alive.length > 0; alive = alive.filter((pid) => isRepackOf(pid, gitDir))) {
    const signal: NodeJS.Signals = Date.now() > deadline ? 'SIGKILL' : 'SIGTERM';
    for (const pid of alive) {
      for (const target of [-pid, pid]) {
        try {
          process.kill(target, signal);
        } catch {
          // Not a group leader, or gone.
        }
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  fs.rmSync(pidFile, { force: true });
  return stale.size > 0;
}
