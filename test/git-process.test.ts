import test from 'ava';
import { runGit } from '../index-repo/git-process.ts';
import { commandLinesWith } from './helpers/mirror.ts';

// Git aliases starting with `!` run a shell command: a stand-in for a git that computes or hangs.
// About 4 s of CPU on an idle machine, without a byte of output: longer than the idle limit below.
const busy = (marker: string) => ['-c', `alias.busy=!f() { i=0; while [ $i -lt 5000000 ]; do i=$((i+1)); done; echo ${marker}; }; f`, 'busy'];
const nap = (marker: string) => ['-c', `alias.nap=!sleep 30; echo ${marker}`, 'nap'];

test('a git that computes without writing is left to finish; one that writes nothing and uses no CPU is killed with its group', async (t) => {
  const started = performance.now();
  const [working, hanging] = await Promise.all([
    runGit({ args: busy('busy-done'), timeoutMs: 60_000, idleMs: 1500 }),
    runGit({ args: nap('nap-marker'), timeoutMs: 60_000, idleMs: 1500 }),
  ]);
  t.like(working, { code: 0, killed: null });
  t.is(working.stdout.trim(), 'busy-done');
  t.like(hanging, { code: null, killed: 'idle' });
  t.true(performance.now() - started < 30_000, 'the hanging one did not run its 30 s');
  t.deepEqual(commandLinesWith('nap-marker'), [], 'its shell and sleep are gone with it');
});

test('a git is killed with its group at its time limit, and when its signal aborts', async (t) => {
  const timedOut = await runGit({ args: busy('never'), timeoutMs: 300 });
  t.like(timedOut, { code: null, killed: 'timeout' });
  const stop = new AbortController();
  setTimeout(() => stop.abort(), 300);
  const stopped = await runGit({ args: nap('aborted-marker'), timeoutMs: 60_000, signal: stop.signal });
  t.like(stopped, { code: null, killed: 'aborted' });
  t.deepEqual(commandLinesWith('aborted-marker'), []);
});
