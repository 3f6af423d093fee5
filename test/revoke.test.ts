import test from 'ava';
import { bundle } from './helpers/bundle.ts';
import { published, publisher, putBundle, revokeCall } from './helpers/fixtures.ts';
import { call, expectError, expectJson, startRegistryWithMail, type MailRegistry } from './helpers/accounts.ts';
import { gitCmd } from './helpers/git.ts';
import { packagePaths } from '../gateway/packages/version-index.ts';
import { blobId } from '../index-repo/git-object.ts';

let reg: MailRegistry;
let token: string;
test.before(async () => {
  reg = await startRegistryWithMail();
  token = await publisher(reg, 'owner@example.com', ['acme']);
});
test.after.always(() => reg?.close());

const subjects = async () => (await gitCmd(['--git-dir', reg.registry.deps.index.gitDir, 'log', '--format=%s', 'main'])).trim().split('\n');

test.serial('revoke: one commit records the revocation, the content refs and objects are gone; metadata stays', async (t) => {
  const firstBytes = bundle({ name: 'acme/lib', version: '1.0.0' });
  const secondBytes = bundle({ name: 'acme/lib', version: '1.1.0', deps: {} });
  const first = await published(reg.url, token, 'acme/lib', '1.0.0', firstBytes);
  const second = await published(reg.url, token, 'acme/lib', '1.1.0', secondBytes);
  const before = Date.now();
  const entry = await expectJson(await revokeCall(reg.url, token, 'acme/lib', '1.1.0', 'Breaks Dict.merge'), 200);
  t.like(entry, { version: '1.1.0', sha256: second.sha256, revoked: { reason: 'Breaks Dict.merge' } });
  t.true(Date.parse(entry.revoked.at) >= before - 1000 && Date.parse(entry.revoked.at) <= Date.now() + 1000);

  t.is((await subjects())[0], 'Revoke acme/lib 1.1.0');
  const bundleRes = await fetch(`${reg.url}/index/packages/acme/lib/1.1.0/bundle.pkg.gz`);
  t.true(bundleRes.status === 404 || bundleRes.status === 410, `a revoked bundle answers ${bundleRes.status}`);
  t.is((await fetch(`${reg.url}/index/packages/acme/lib/1.0.0/bundle.pkg.gz`)).status, 200);
  const outline = await expectJson(await fetch(`${reg.url}/index/packages/acme/lib/1.1.0/gren.json`), 200);
  t.is(outline.version, '1.1.0');
  const index = await expectJson(await fetch(`${reg.url}/index/packages/acme/lib/index.json`), 200);
  t.deepEqual(index.versions[1], entry);
  t.like(index.versions[0], { version: '1.0.0', sha256: first.sha256, revoked: null });

  const gitDir = reg.registry.deps.index.gitDir;
  const files = await gitCmd(['--git-dir', gitDir, 'show', '--name-status', '--format=', 'main']);
  t.deepEqual(files.trim().split('\n').sort(), ['M\tpackages/acme/lib/index.json']);
  // The content refs are gone, and so is every object only they reached: no file of the repository holds the bundle.
  const refs = (await gitCmd(['--git-dir', gitDir, 'for-each-ref', '--format=%(refname)'])).trim().split('\n');
  t.false(refs.some((ref) => ref.endsWith('/1.1.0')), refs.join(', '));
  t.true(refs.includes(packagePaths('acme/lib').bundleRef('1.0.0')));
  await t.throwsAsync(gitCmd(['--git-dir', gitDir, 'cat-file', '-e', blobId(secondBytes)]));
  await t.notThrowsAsync(gitCmd(['--git-dir', gitDir, 'cat-file', '-e', blobId(firstBytes)]));
});

test.serial('revoking again answers 200 with the same entry and commits nothing', async (t) => {
  const head = reg.registry.deps.index.head();
  const again = await expectJson(await revokeCall(reg.url, token, 'acme/lib', '1.1.0', 'another reason'), 200);
  t.is(again.revoked.reason, 'Breaks Dict.merge');
  t.is(reg.registry.deps.index.head(), head);
});

test.serial('the number stays taken, and queries skip the revoked version', async (t) => {
  await expectError(await putBundle(reg.url, token, 'acme/lib', '1.1.0', bundle({ name: 'acme/lib', version: '1.1.0' })), 409, 'version_exists', t);
  t.deepEqual(await expectJson(await call(reg.url, 'GET', '/packages/acme/lib/latest'), 200), { version: '1.0.0' });
  const listed = (await expectJson(await call(reg.url, 'GET', '/packages'), 200)).find((p: { name: string }) => p.name === 'acme/lib');
  t.like(listed, { latest: '1.0.0', versions: ['1.0.0'] });
});

test('a reason is optional; when given, it is a short text', async (t) => {
  await published(reg.url, token, 'acme/plain', '1.0.0', bundle({ name: 'acme/plain', version: '1.0.0' }));
  await expectError(await revokeCall(reg.url, token, 'acme/plain', '1.0.0', 'x'.repeat(1001)), 400, 'invalid_request', t);
  const entry = await expectJson(await revokeCall(reg.url, token, 'acme/plain', '1.0.0'), 200);
  t.is(entry.revoked.reason, null);
});

test('unknown package or version: 404 not_found; without publish rights: 401', async (t) => {
  await published(reg.url, token, 'acme/known', '1.0.0', bundle({ name: 'acme/known', version: '1.0.0' }));
  await expectError(await revokeCall(reg.url, token, 'acme/unknown', '1.0.0'), 404, 'not_found', t);
  await expectError(await revokeCall(reg.url, token, 'acme/known', '2.0.0'), 404, 'not_found', t);
  await expectError(await revokeCall(reg.url, null, 'acme/known', '1.0.0'), 401, 'unauthorized', t);
});

test('revoking every version keeps the package listed without a latest version', async (t) => {
  await published(reg.url, token, 'acme/short-lived', '1.0.0', bundle({ name: 'acme/short-lived', version: '1.0.0', summary: 'Short lived' }));
  await expectJson(await revokeCall(reg.url, token, 'acme/short-lived', '1.0.0'), 200);
  await expectError(await call(reg.url, 'GET', '/packages/acme/short-lived/latest'), 404, 'no_matching_version', t);
  const listed = (await expectJson(await call(reg.url, 'GET', '/packages'), 200)).find((p: { name: string }) => p.name === 'acme/short-lived');
  t.deepEqual(listed, { name: 'acme/short-lived', summary: 'Short lived', latest: null, versions: [] });
});
