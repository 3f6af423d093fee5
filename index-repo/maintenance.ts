import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

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
 * Packs loose objects so that a clone over plain HTTP takes a few requests, not one per object.
 * `--geometric=2` keeps the number of packs logarithmic without rewriting the big ones each time;
 * `-d` then drops the loose copies; `-n` leaves `objects/info/packs` to the registry, which
 * rewrites it inside its commit queue. Git flushes the new packs before the loose objects go.
 * This runs off the write path: commits go on while it packs.
 */
export async function repack(gitDir: string): Promise<void> {
  await run(
    'git',
    ['-c', 'core.fsync=all', '-c', 'core.fsyncMethod=fsync', '-c', 'repack.writeBitmaps=false', '-c', 'gc.auto=0',
      '--git-dir', gitDir, 'repack', '-d', '-n', '-q', '--geometric=2'],
    { maxBuffer: 16 * 1024 * 1024 },
  );
}
