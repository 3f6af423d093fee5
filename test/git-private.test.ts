import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import { bundle } from './helpers/bundle.ts';
import { published, publisher } from './helpers/fixtures.ts';
import { addMember, createToken, loggedIn, startRegistryWithMail, type MailRegistry } from './helpers/accounts.ts';
import { tempDir } from './helpers/registry.ts';
import { gitClient, remoteRefs } from './helpers/git.ts';
import { countTraffic } from './helpers/traffic.ts';
import { postUploadPack } from './helpers/upload-pack.ts';

const secret = 'acme/secret';
const elsewhere = 'other/hidden';

let reg: MailRegistry;
let owner: string;
let reader: string;
let downloadToken: string;
let otherToken: string;
let outsider: string;
let hiddenCommit: string;
test.before(async () => {
  reg = await startRegistryWithMail();
  owner = await publisher(reg, 'owner@example.com', ['acme', 'other']);
  reader = await loggedIn(reg, 'reader@example.com');
  await addMember(reg, owner, 'acme', 'reader@example.com', 'download');
  downloadToken = (await createToken(reg, owner, { identity: 'acme', role: 'download' })).token;
  otherToken = (await createToken(reg, owner, { identity: 'other', role: 'download' })).token;
  outsider = await publisher(reg, 'outsider@example.com', ['elsewhere']);
  await published(reg.url, owner, 'acme/open', '1.0.0', bundle({ name: 'acme/open', version: '1.0.0' }));
  await published(reg.url, owner, secret, '1.0.0', bundle({ name: secret, version: '1.0.0', private: true }));
  await published(reg.url, owner, elsewhere, '1.0.0', bundle({ name: elsewhere, version: '1.0.0', private: true }));
  const refs = remoteRefs((await gitClient(['ls-remote', `${reg.url}/git/${elsewhere}.git`], { env: bearer(owner) })).stdout);
  hiddenCommit = refs.get('refs/tags/1.0.0') as string;
});
test.after.always(() => reg?.close());

const url = (name = secret) => `${reg.url}/git/${name}.git`;
/** Git configuration in the environment: one `http.extraHeader`. */
const header = (value: string) => ({ GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'http.extraHeader', GIT_CONFIG_VALUE_0: value });
const bearer = (token: string) => header(`Authorization: Bearer ${token}`);
const basic = (token: string) => header(`Authorization: Basic ${Buffer.from(`anyone:${token}`).toString('base64')}`);
const withCredentials = (token: string) => url().replace('http://', `http://gren:${token}@`);

test('without credentials: 401 with a Basic challenge, which makes Git ask (and fail when it may not)', async (t) => {
  const res = await fetch(`${url()}/info/refs?service=git-upload-pack`);
  t.is(res.status, 401);
  t.is(res.headers.get('www-authenticate'), 'Basic realm="Gren registry"');
  t.is(((await res.json()) as { error: string }).error, 'unauthorized');
  const run = await gitClient(['ls-remote', url()]);
  t.not(run.code, 0);
  t.regex(run.stderr, /could not read Username/);
});

test('a member with a session token, and a download token, as Bearer, as Basic, or in the URL', async (t) => {
  const ways: Array<[string, string[], Record<string, string>]> = [
    ['session as Bearer', [url()], bearer(reader)],
    ['session as Basic', [url()], basic(reader)],
    ['download token as Basic', [url()], basic(downloadToken)],
    ['download token as Bearer', [url()], bearer(downloadToken)],
    ['download token in the URL', [withCredentials(downloadToken)], {}],
  ];
  for (const [way, target, env] of ways) {
    const run = await gitClient(['ls-remote', '--tags', ...target], { env });
    t.is(run.code, 0, `${way}: ${run.stderr}`);
    t.deepEqual([...remoteRefs(run.stdout).keys()], ['refs/tags/1.0.0'], way);
  }
  const dir = path.join(tempDir(), 'secret');
  const clone = await gitClient(['clone', '--quiet', '--depth', '1', '--branch', '1.0.0', withCredentials(downloadToken), dir]);
  t.is(clone.code, 0, clone.stderr);
  t.is(JSON.parse(fs.readFileSync(path.join(dir, 'gren.json'), 'utf8')).private, true);
});

test('credentials without the right get exactly the answer of a package that does not exist', async (t) => {
  const missing = await fetch(`${reg.url}/git/acme/nothing.git/info/refs?service=git-upload-pack`, { headers: { authorization: `Bearer ${outsider}` } });
  const missingBody = await missing.text();
  for (const token of [outsider, otherToken]) {
    const res = await fetch(`${url()}/info/refs?service=git-upload-pack`, { headers: { authorization: `Bearer ${token}` } });
    t.is(res.status, missing.status);
    t.is(await res.text(), missingBody);
    t.is(res.headers.get('www-authenticate'), null);
    const run = await gitClient(['ls-remote', url()], { env: basic(token) });
    t.not(run.code, 0);
    t.regex(run.stderr, /repository '.*' not found/);
  }
});

test('a wrong token is refused as wrong; a public package ignores credentials', async (t) => {
  const run = await gitClient(['ls-remote', withCredentials('grs_not-a-token')]);
  t.not(run.code, 0);
  t.regex(run.stderr, /Authentication failed/);
  const open = await gitClient(['ls-remote', '--tags', url('acme/open')], { env: bearer('grs_not-a-token') });
  t.is(open.code, 0, open.stderr);
});

test.serial('private repositories speak protocol v0 only, which hands out nothing the package does not reach', async (t) => {
  const traffic = countTraffic(reg.registry.server() as http.Server);
  const run = await gitClient(['-c', 'protocol.version=2', 'ls-remote', '--tags', url()], { env: bearer(reader) });
  t.is(run.code, 0, run.stderr);
  t.deepEqual(traffic.requests().map((r) => r.split(' ')[0]), ['GET'], 'a v0 advertisement: no ls-refs command');
  const raw = await fetch(`${url()}/info/refs?service=git-upload-pack`, { headers: { authorization: `Bearer ${reader}`, 'git-protocol': 'version=2' } });
  t.true((await raw.text()).startsWith('001e# service=git-upload-pack\n0000'));

  // Another identity's private package lives in the same repository: its commit is not to be had by id.
  const dir = tempDir();
  await gitClient(['init', '--quiet', dir]);
  for (const protocol of ['0', '2']) {
    const fetched = await gitClient(['-c', `protocol.version=${protocol}`, 'fetch', '--depth', '1', url(), hiddenCommit], { cwd: dir, env: bearer(reader) });
    t.not(fetched.code, 0, `v${protocol}`);
    t.regex(fetched.stderr, /not our ref|couldn't find remote ref|Server does not allow request for unadvertised object/, `v${protocol}`);
  }
  t.false((await gitClient(['cat-file', '-e', hiddenCommit], { cwd: dir })).code === 0);
  // Asked by hand, as no Git client would, the server itself refuses, whatever protocol is asked for.
  for (const headers of [{}, { 'git-protocol': 'version=2' }]) {
    const answer = await postUploadPack(url(), hiddenCommit, { headers: { authorization: `Bearer ${reader}`, ...headers } });
    t.false(answer.body.includes('PACK'));
    t.regex(answer.body.toString('latin1'), /not our ref/);
  }
});

test('nothing of a private package is in the public repository', async (t) => {
  const run = await gitClient(['ls-remote', `${reg.url}/index.git`]);
  t.is(run.code, 0, run.stderr);
  t.true(run.stdout.includes('refs/namespaces/acme/refs/namespaces/open/'));
  t.false(run.stdout.includes('secret'));
  t.false(run.stdout.includes('hidden'));
});
