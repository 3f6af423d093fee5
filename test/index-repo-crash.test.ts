import test from 'ava';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { openIndexRepo } from '../index-repo/open-index-repo.ts';
import { memoryLogger } from '../gateway/log.ts';
import { tempDir } from './helpers/registry.ts';
import { folderFiles, fsck, history, lsTree } from './helpers/git.ts';

const loop = path.join(import.meta.dirname, 'fixtures', 'commit-loop.ts');

/** Runs the commit loop in a child process, kills it with SIGKILL after `ms`, returns what it acknowledged. */
function commitUntilKilled(dir: string, round: number, ms: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [loop, dir, String(round)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.startsWith('ready\n') && !timer) timer = setTimeout(() => child.kill('SIGKILL'), ms);
    });
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    let timer: NodeJS.Timeout | undefined;
    child.on('error', reject);
    child.on('exit', (_code, signal) => {
      if (signal !== 'SIGKILL') return reject(new Error(`the commit loop stopped by itself: ${err}`));
      // Only whole lines were acknowledged; a line cut by the kill was not.
      const lines = out.split('\n').slice(1, -1);
      resolve(lines.filter((l) => /^[0-9a-f]{40}$/.test(l)));
    });
  });
}

test('a process killed with SIGKILL at random moments loses no acknowledged commit and leaves a sound repository', async (t) => {
  const dir = tempDir();
  const gitDir = path.join(dir, 'index.git');
  const acknowledged: string[] = [];
  for (let round = 1; round <= 20; round++) {
    const ms = 30 + Math.floor(Math.random() * 400);
    const commits = await commitUntilKilled(dir, round, ms);
    acknowledged.push(...commits);

    const repo = await openIndexRepo({ gitDir, servedDir: path.join(dir, 'index'), clock: { now: () => new Date() }, log: memoryLogger(), name: 'public', required: { 'config.json': Buffer.from('{"protocol": 1}\n') }, packEvery: 0 });
    try {
      await fsck(gitDir);
      const { commits: onMain, linear } = await history(gitDir);
      t.true(linear, `round ${round}: history is linear`);
      const present = new Set(onMain);
      const lost = acknowledged.filter((c) => !present.has(c));
      t.deepEqual(lost, [], `round ${round} (killed after ${ms} ms): every acknowledged commit is on main`);
      t.deepEqual(await folderFiles(path.join(dir, 'index')), await lsTree(gitDir), `round ${round}: served files equal main`);
    } finally {
      await repo.close();
    }
  }
  t.true(acknowledged.length > 20, `${acknowledged.length} commits acknowledged over 20 rounds`);
});
