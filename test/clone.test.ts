import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import type { LocalIndexRepo } from '../index-repo/open-index-repo.ts';
import { startRegistry, tempDir } from './helpers/registry.ts';
import { gitCmd, lsTree } from './helpers/git.ts';

/** Counts the requests a server answers, by wrapping its request listener. */
function countRequests(server: http.Server): { count: () => number } {
  let count = 0;
  server.prependListener('request', () => count++);
  return { count: () => count };
}

test('git clone of <registry>/index.git over plain HTTP equals main, loose and packed', async (t) => {
  const reg = await startRegistry();
  t.teardown(() => reg.close());
  const index = reg.registry.deps.index as LocalIndexRepo;
  for (let i = 0; i < 30; i++) {
    await index.update(() => ({
      message: `Publish clone/pkg 1.0.${i}`,
      changes: [
        { path: `packages/clone/pkg/1.0.${i}/bundle.pkg.gz`, content: Buffer.alloc(3000, i) },
        { path: 'packages/clone/pkg/index.json', content: Buffer.from(`{"latest": "1.0.${i}"}`) },
      ],
      result: null,
    }));
  }
  const loose = path.join(tempDir(), 'loose');
  await gitCmd(['clone', '--quiet', `${reg.url}/index.git`, loose]);
  t.is((await gitCmd(['rev-parse', 'HEAD'], { cwd: loose })).trim(), index.head());
  t.deepEqual(await lsTree(path.join(loose, '.git'), 'HEAD'), await lsTree(index.gitDir));
  await gitCmd(['fsck', '--full', '--strict'], { cwd: loose });

  await index.maintain();
  const counter = countRequests(reg.registry.server() as http.Server);
  const packed = path.join(tempDir(), 'packed');
  await gitCmd(['clone', '--quiet', `${reg.url}/index.git`, packed]);
  t.deepEqual(await lsTree(path.join(packed, '.git'), 'HEAD'), await lsTree(index.gitDir));
  t.true(counter.count() < 12, `a packed clone took ${counter.count()} requests`);

  // A mirror keeps up with `git fetch`.
  await index.update(() => ({ message: 'Publish clone/pkg 2.0.0', changes: [{ path: 'packages/clone/pkg/2.0.0/bundle.pkg.gz', content: Buffer.from('new') }], result: null }));
  await gitCmd(['pull', '--quiet', '--ff-only'], { cwd: packed });
  t.is(fs.readFileSync(path.join(packed, 'packages/clone/pkg/2.0.0/bundle.pkg.gz'), 'utf8'), 'new');
});
