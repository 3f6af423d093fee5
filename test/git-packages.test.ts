import { waitUntil } from './helpers/git-serving.ts';
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import http from 'node:http';
import { bundle, outlineOf, type BundleSpec } from './helpers/bundle.ts';
import { published, publisher } from './helpers/fixtures.ts';
import { expectError, startRegistryWithMail, type MailRegistry } from './helpers/accounts.ts';
import { rawRequest } from './helpers/http.ts';
import { tempDir } from './helpers/registry.ts';
import { gitClient, remoteRefs } from './helpers/git.ts';
import { countTraffic, type Traffic } from './helpers/traffic.ts';
import { postUploadPack } from './helpers/upload-pack.ts';
import { buildBundle, canonicalOutline } from '../scripts/client/bundle.ts';

const name = 'acme/widget';
/** Versions and the compiler versions each admits. */
const versions: Array<[string, string]> = [
  ['1.0.0', '0.5.0 <= v < 0.6.0'],
  ['1.1.0', '0.6.0 <= v < 0.7.0'],
  ['2.0.0', '0.6.0 <= v < 0.7.0'],
  ['3.0.0', '0.7.0 <= v < 0.8.0'],
];
const spec = (version: string, gren: string): BundleSpec => ({
  name,
  version,
  gren,
  exposed: ['Widget', 'Widget.Parts'],
  sources: { 'Gren.Kernel.Widget': 'var _Widget_id = function (x) { return x; };\n', 'Widget.Internal': 'module Widget.Internal exposing (..)\n' },
});
const bundles = new Map(versions.map(([version, gren]) => [version, bundle(spec(version, gren))]));

let reg: MailRegistry;
let traffic: Traffic;
test.before(async () => {
  reg = await startRegistryWithMail();
  const token = await publisher(reg, 'owner@example.com', ['acme']);
  for (const [version] of versions) await published(reg.url, token, name, version, bundles.get(version) as Buffer);
  traffic = countTraffic(reg.registry.server() as http.Server);
});
test.after.always(() => reg?.close());

const protocols = ['0', '2'] as const;
const url = (prefix = '') => `${reg.url}/git/${prefix}${name}.git`;

for (const protocol of protocols) {
  test.serial(`ls-remote --tags lists every version as a lightweight tag, protocol v${protocol}`, async (t) => {
    traffic.reset();
    const logged = reg.log.lines.length;
    const run = await gitClient(['-c', `protocol.version=${protocol}`, 'ls-remote', '--tags', url()]);
    t.is(run.code, 0, run.stderr);
    t.deepEqual([...remoteRefs(run.stdout).keys()].sort(), versions.map(([v]) => `refs/tags/${v}`));
    t.false(run.stdout.includes('^{}'));
    // v0 is one advertisement; v2 is the capability advertisement, then ls-refs, which follows
    // on the same connection, answered in the spawner: the gateway sees the first request only.
    t.deepEqual(traffic.requests().map((r) => r.split(' ')[0]), ['GET']);
    const requests = () => reg.log.lines.slice(logged).filter((l) => l.event === 'request').map((l) => l.method);
    await waitUntil(t, 'the requests are logged', () => requests().length === (protocol === '0' ? 1 : 2));
    t.deepEqual(requests(), protocol === '0' ? ['GET'] : ['GET', 'POST']);
    const all = await gitClient(['-c', `protocol.version=${protocol}`, 'ls-remote', url()]);
    t.false(all.stdout.includes('refs/bundles'), 'bundle refs are hidden');
    t.false(all.stdout.includes('refs/heads'), 'no branch inside a package');
  });

  test.serial(`clone --depth 1 --branch checks out what the compiler reads, protocol v${protocol}`, async (t) => {
    const dir = path.join(tempDir(), 'widget');
    const run = await gitClient(['-c', `protocol.version=${protocol}`, 'clone', '--quiet', '--depth', '1', '--branch', '2.0.0', url(), dir]);
    t.is(run.code, 0, run.stderr);
    t.is((await gitClient(['rev-list', '--count', 'HEAD'], { cwd: dir })).stdout.trim(), '1');
    const published = JSON.parse(zlib.gunzipSync(bundles.get('2.0.0') as Buffer).toString()) as { outline: Record<string, unknown>; sources: Record<string, string> };
    t.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, 'gren.json'), 'utf8')), outlineOf(spec('2.0.0', '0.6.0 <= v < 0.7.0')));
    t.true(fs.existsSync(path.join(dir, 'src/Gren/Kernel/Widget.js')));
    t.true(fs.existsSync(path.join(dir, 'src/Widget/Parts.gren')));
    // The bundle built from the checkout, as the compiler builds it, holds the published outline and sources.
    const rebuilt = await buildBundle(dir);
    t.deepEqual(rebuilt.outline, canonicalOutline(published.outline));
    t.deepEqual(rebuilt.sources, published.sources);
  });

  test.serial(`the compiler-aware view shows only the versions that compiler can use, protocol v${protocol}`, async (t) => {
    const aware = url('gren-0.6.2/');
    const run = await gitClient(['-c', `protocol.version=${protocol}`, 'ls-remote', '--tags', aware]);
    t.is(run.code, 0, run.stderr);
    t.deepEqual([...remoteRefs(run.stdout).keys()].sort(), ['refs/tags/1.1.0', 'refs/tags/2.0.0']);
    const later = await gitClient(['-c', `protocol.version=${protocol}`, 'ls-remote', '--tags', url('gren-0.7.0/')]);
    t.deepEqual([...remoteRefs(later.stdout).keys()], ['refs/tags/3.0.0']);
    const hidden = await gitClient(['-c', `protocol.version=${protocol}`, 'clone', '--quiet', '--depth', '1', '--branch', '3.0.0', aware, path.join(tempDir(), 'x')]);
    t.not(hidden.code, 0);
    t.regex(hidden.stderr, /Remote branch 3\.0\.0 not found/);
    const shown = await gitClient(['-c', `protocol.version=${protocol}`, 'clone', '--quiet', '--depth', '1', '--branch', '1.1.0', aware, path.join(tempDir(), 'y')]);
    t.is(shown.code, 0, shown.stderr);
  });
}

test.serial('names match whatever their case, with or without .git, and map to the registered spelling', async (t) => {
  for (const target of [`${reg.url}/git/ACME/Widget.git`, `${reg.url}/git/acme/widget`, `${reg.url}/git/gren-0.6.0/Acme/WIDGET.git`]) {
    const run = await gitClient(['ls-remote', '--tags', target]);
    t.is(run.code, 0, `${target}: ${run.stderr}`);
    t.true(remoteRefs(run.stdout).has('refs/tags/2.0.0'), target);
  }
});

test.serial('a package that does not exist is "repository not found", as is a URL that cannot name one', async (t) => {
  for (const target of [`${reg.url}/git/acme/nothing.git`, `${reg.url}/git/nobody/widget.git`, `${reg.url}/git/gren-0.6/acme/widget.git`, `${reg.url}/git/acme/widget/extra.git`]) {
    const run = await gitClient(['ls-remote', target]);
    t.not(run.code, 0, target);
    t.regex(run.stderr, /not found/, target);
  }
  await expectError(await fetch(`${reg.url}/git/acme/nothing.git/info/refs?service=git-upload-pack`), 404, 'not_found', t);
});

test.serial('pushes and the dumb protocol are refused with catalog errors', async (t) => {
  const refs = `/git/${name}.git/info/refs`;
  await expectError(await fetch(`${reg.url}${refs}?service=git-receive-pack`), 403, 'forbidden', t);
  await expectError(await fetch(`${reg.url}/git/${name}.git/git-receive-pack`, { method: 'POST', body: '0000' }), 403, 'forbidden', t);
  await expectError(await fetch(`${reg.url}/index.git/info/refs?service=git-receive-pack`), 403, 'forbidden', t);
  for (const file of ['info/refs', 'HEAD', 'objects/info/packs', 'config', 'refs/namespaces/acme/refs/namespaces/widget/refs/tags/1.0.0']) {
    await expectError(await fetch(`${reg.url}/git/${name}.git/${file}`), 404, 'not_found', t);
    await expectError(await fetch(`${reg.url}/index.git/${file}`), 404, 'not_found', t);
  }
  await expectError(await fetch(`${reg.url}${refs}?service=git-upload-pack`, { method: 'POST', body: '' }), 405, 'method_not_allowed', t);
  await expectError(await fetch(`${reg.url}/git/${name}.git/git-upload-pack`), 405, 'method_not_allowed', t);
  const work = tempDir();
  await gitClient(['init', '--quiet', work]);
  await gitClient(['-c', 'user.name=x', '-c', 'user.email=x@example.com', 'commit', '--quiet', '--allow-empty', '-m', 'x'], { cwd: work });
  const push = await gitClient(['push', url(), 'HEAD:refs/tags/9.9.9'], { cwd: work });
  t.not(push.code, 0);
  t.regex(push.stderr, /403/);
});

test.serial('a gzip request body, as Git sends for long negotiations, is read', async (t) => {
  const advertised = remoteRefs((await gitClient(['-c', 'protocol.version=0', 'ls-remote', url()])).stdout);
  const want = advertised.get('refs/tags/2.0.0') as string;
  const answer = await postUploadPack(url(), want, { gzip: true });
  t.is(answer.status, 200);
  t.is(answer.type, 'application/x-git-upload-pack-result');
  t.true(answer.body.includes('PACK'), 'a pack follows the NAK');
});

test.serial('each Git request is one log line without its query; the raw advertisement names no other package', async (t) => {
  // The lines of the requests before are written once their Git exits: let them land first.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const before = reg.log.lines.length;
  const res = await rawRequest(reg.url, `/git/${name}.git/info/refs?service=git-upload-pack`);
  t.is(res.status, 200);
  t.false(res.body.toString('latin1').includes('refs/namespaces'));
  // The line is written once Git has exited, which may be a moment after the answer.
  const mine = () => reg.log.lines.slice(before).filter((l) => l.event === 'request' && l.method === 'GET');
  for (let waited = 0; mine().length === 0 && waited < 5000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
  t.is(mine().length, 1);
  t.is(mine()[0]?.path, `/git/${name}.git/info/refs`);
  t.is(mine()[0]?.status, 200);
});
