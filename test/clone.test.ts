import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import type { LocalIndexRepo } from '../index-repo/open-index-repo.ts';
import { startRegistry, tempDir } from './helpers/registry.ts';
import { startRegistryWithMail } from './helpers/accounts.ts';
import { bundle } from './helpers/bundle.ts';
import { published, publisher, revokeCall } from './helpers/fixtures.ts';
import { fsck, gitCmd, lsTree } from './helpers/git.ts';
import { countTraffic } from './helpers/traffic.ts';

/** The refs of a bare repository, by name (`git for-each-ref`). */
async function refsOf(gitDir: string): Promise<Map<string, string>> {
  const out = await gitCmd(['--git-dir', gitDir, 'for-each-ref', '--format=%(refname) %(objectname)']);
  return new Map(out.trim().split('\n').filter(Boolean).map((line) => line.split(' ') as [string, string]));
}

for (const protocol of ['0', '2']) {
  test(`git clone of <registry>/index.git over smart HTTP is main, in a few requests, protocol v${protocol}`, async (t) => {
    const reg = await startRegistry();
    t.teardown(() => reg.close());
    const index = reg.registry.deps.index as LocalIndexRepo;
    for (let i = 0; i < 30; i++) {
      await index.update(() => ({
        message: `Publish clone/pkg 1.0.${i}`,
        changes: [
          { path: `packages/clone/pkg/1.0.${i}/gren.json`, content: Buffer.from(`{"version": "1.0.${i}"}`) },
          { path: 'packages/clone/pkg/index.json', content: Buffer.from(`{"latest": "1.0.${i}"}`) },
        ],
        result: null,
      }));
    }
    const traffic = countTraffic(reg.registry.server() as http.Server);
    const dir = path.join(tempDir(), 'clone');
    await gitCmd(['-c', `protocol.version=${protocol}`, 'clone', '--quiet', `${reg.url}/index.git`, dir]);
    t.is((await gitCmd(['rev-parse', 'HEAD'], { cwd: dir })).trim(), index.head());
    t.deepEqual(await lsTree(path.join(dir, '.git'), 'HEAD'), await lsTree(index.gitDir));
    await gitCmd(['fsck', '--full', '--strict'], { cwd: dir });
    t.log(`v${protocol}: ${traffic.requests().length} requests, ${traffic.bytes()} bytes`);
    t.true(traffic.requests().length <= 3, traffic.requests().join(', '));

    // A clone keeps up with `git pull`, which fetches only what is new.
    await index.update(() => ({ message: 'Publish clone/pkg 2.0.0', changes: [{ path: 'packages/clone/pkg/2.0.0/gren.json', content: Buffer.from('new') }], result: null }));
    traffic.reset();
    await gitCmd(['-c', `protocol.version=${protocol}`, 'pull', '--quiet', '--ff-only'], { cwd: dir });
    t.is(fs.readFileSync(path.join(dir, 'packages/clone/pkg/2.0.0/gren.json'), 'utf8'), 'new');
    t.true(traffic.bytes() < 8000, `a pull of one commit took ${traffic.bytes()} bytes`);
  });
}

test('a mirror of index.git holds every content ref, and `fetch --prune` follows publishes and revokes', async (t) => {
  const reg = await startRegistryWithMail();
  t.teardown(() => reg.close());
  const token = await publisher(reg, 'owner@example.com', ['acme']);
  for (const version of ['1.0.0', '1.1.0']) await published(reg.url, token, 'acme/mirrored', version, bundle({ name: 'acme/mirrored', version, padding: 2000 }));
  const gitDir = reg.registry.deps.index.gitDir;

  const mirror = path.join(tempDir(), 'mirror.git');
  await gitCmd(['clone', '--quiet', '--mirror', `${reg.url}/index.git`, mirror]);
  t.deepEqual(await refsOf(mirror), await refsOf(gitDir));
  t.true((await refsOf(mirror)).has('refs/namespaces/acme/refs/namespaces/mirrored/refs/bundles/1.1.0'));
  await fsck(mirror);

  // A plain clone takes main only.
  const plain = path.join(tempDir(), 'plain');
  await gitCmd(['clone', '--quiet', '--bare', `${reg.url}/index.git`, plain]);
  t.deepEqual([...(await refsOf(plain)).keys()], ['refs/heads/main']);

  await published(reg.url, token, 'acme/mirrored', '2.0.0', bundle({ name: 'acme/mirrored', version: '2.0.0' }));
  t.is((await revokeCall(reg.url, token, 'acme/mirrored', '1.0.0', 'test')).status, 200);
  await gitCmd(['--git-dir', mirror, 'fetch', '--quiet', '--prune']);
  const fetched = await refsOf(mirror);
  t.deepEqual(fetched, await refsOf(gitDir));
  t.true(fetched.has('refs/namespaces/acme/refs/namespaces/mirrored/refs/tags/2.0.0'));
  t.false(fetched.has('refs/namespaces/acme/refs/namespaces/mirrored/refs/bundles/1.0.0'));
  t.false(fetched.has('refs/namespaces/acme/refs/namespaces/mirrored/refs/tags/1.0.0'));
  await fsck(mirror);
});
