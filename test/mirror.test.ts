import test from 'ava';
import path from 'node:path';
import { bundle } from './helpers/bundle.ts';
import { publisher, published, revokeCall } from './helpers/fixtures.ts';
import { expectJson, startRegistryWithMail } from './helpers/accounts.ts';
import { fsck, gitBytes, gitCmd } from './helpers/git.ts';
import { tempDir } from './helpers/registry.ts';
import { packagePaths } from '../gateway/packages/version-index.ts';
import { blobId } from '../index-repo/git-object.ts';

const has = (gitDir: string, oid: string) => gitCmd(['--git-dir', gitDir, 'cat-file', '-e', oid]).then(() => true, () => false);

test('a mirror holds every unrevoked bundle, a plain clone only main; after a revoke the content is fetchable by no route', async (t) => {
  const reg = await startRegistryWithMail();
  t.teardown(() => reg.close());
  const token = await publisher(reg, 'robin@example.com', ['acme']);
  const kept = bundle({ name: 'acme/lib', version: '1.0.0', padding: 3000 });
  const doomed = bundle({ name: 'acme/lib', version: '1.1.0', padding: 3000 });
  await published(reg.url, token, 'acme/lib', '1.0.0', kept);
  await published(reg.url, token, 'acme/lib', '1.1.0', doomed);
  // The registry's own Git route, as a mirror reaches it.
  const source = `${reg.url}/index.git`;
  const refs = packagePaths('acme/lib');
  const work = tempDir('gren-mirror-');

  const mirror = path.join(work, 'mirror.git');
  await gitCmd(['clone', '--quiet', '--mirror', source, mirror]);
  await fsck(mirror);
  t.true((await gitBytes(['--git-dir', mirror, 'cat-file', 'blob', refs.bundleRef('1.1.0')])).equals(doomed));
  t.true((await gitBytes(['--git-dir', mirror, 'cat-file', 'blob', refs.bundleRef('1.0.0')])).equals(kept));
  const plain = path.join(work, 'plain.git');
  await gitCmd(['clone', '--quiet', '--bare', source, plain]);
  t.deepEqual((await gitCmd(['--git-dir', plain, 'for-each-ref', '--format=%(refname)'])).trim().split('\n'), ['refs/heads/main']);
  t.false(await has(plain, blobId(kept)), 'a plain clone of main holds no bundle');

  await expectJson(await revokeCall(reg.url, token, 'acme/lib', '1.1.0', 'legal takedown'), 200);
  const doomedOid = blobId(doomed);
  // By path.
  t.is((await fetch(`${reg.url}/index/packages/acme/lib/1.1.0/bundle.pkg.gz`)).status, 404);
  // In the registry's repository: no ref, no object, no pack.
  t.false(await has(reg.registry.deps.index.gitDir, doomedOid));
  // By an old mirror's next fetch: the refs go.
  await gitCmd(['--git-dir', mirror, 'fetch', '--quiet', '--prune']);
  const mirrored = (await gitCmd(['--git-dir', mirror, 'for-each-ref', '--format=%(refname)'])).trim().split('\n');
  t.false(mirrored.some((ref) => ref.includes('/1.1.0')), mirrored.join(', '));
  t.true(mirrored.includes(refs.bundleRef('1.0.0')));
  await fsck(mirror);
  // By a fresh mirror.
  const fresh = path.join(work, 'fresh.git');
  await gitCmd(['clone', '--quiet', '--mirror', source, fresh]);
  t.false(await has(fresh, doomedOid));
  // By its package's repository: no tag, no clone.
  t.false((await gitCmd(['ls-remote', `${reg.url}/git/acme/lib.git`])).includes('1.1.0'));
  await t.throwsAsync(gitCmd(['clone', '--quiet', '--depth', '1', '--branch', '1.1.0', `${reg.url}/git/acme/lib.git`, path.join(work, 'lib')]));
  // By object id, with protocol v2 (which serves any object the repository holds) and v0.
  for (const version of ['2', '0']) {
    const fetched = gitCmd(['--git-dir', plain, '-c', `protocol.version=${version}`, 'fetch', '--quiet', source, doomedOid]);
    await t.throwsAsync(fetched, undefined, `protocol v${version}`);
  }
  t.false(await has(plain, doomedOid));
});
