import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { bundle } from './helpers/bundle.ts';
import { publisher, published, revokeCall } from './helpers/fixtures.ts';
import { expectJson, startRegistryWithMail, type MailRegistry } from './helpers/accounts.ts';
import { fsck, gitCmd } from './helpers/git.ts';
import { tempDir } from './helpers/registry.ts';
import { startGitHttpServer, type GitHttpServer } from './helpers/git-http-server.ts';
import { bareRepo, commandLinesWith, eventually, mirrorEqual, mirrorReaches, mirrorStatus, quickMirrors, registryRefs } from './helpers/mirror.ts';
import { startRegistryProcess } from './helpers/process.ts';
import { remoteInvocation } from '../index-repo/git-remote.ts';
import { packagePaths } from '../gateway/packages/version-index.ts';
import { blobId } from '../index-repo/git-object.ts';

type Env = Record<string, string>;

async function registryFor(t: ExecutionContext, env: Env, options: { dataDir?: string; mirrors?: Record<string, number> } = {}): Promise<MailRegistry> {
  const dataDir = options.dataDir ?? tempDir();
  const reg = await startRegistryWithMail({ env, dataDir, overrides: { mirrors: { ...quickMirrors, ...options.mirrors } } });
  t.teardown(() => reg.close());
  return reg;
}

/** Publishes `count` versions of acme/lib at once; answers the time the last answer came. */
async function burst(reg: MailRegistry, token: string, count: number, first = 0): Promise<number> {
  await Promise.all(Array.from({ length: count }, (_, i) => published(reg.url, token, 'acme/lib', `1.0.${first + i}`, bundle({ name: 'acme/lib', version: `1.0.${first + i}`, padding: 2000 }))));
  return performance.now();
}

const linesOf = (reg: MailRegistry, event: string) => reg.log.lines.filter((line) => line.event === event);

async function httpMirror(t: ExecutionContext, password: string, port?: number): Promise<{ server: GitHttpServer; root: string; gitDir: string }> {
  const root = tempDir('gren-mirror-host-');
  const gitDir = await bareRepo(path.join(root, 'index.git'));
  const server = await startGitHttpServer({ root, user: 'x-access-token', password, ...(port ? { port } : {}) });
  t.teardown(() => server.close());
  return { server, root, gitDir };
}

test('a burst of publishes reaches a path mirror in a few pushes, and the mirror equals the registry', async (t) => {
  const mirror = await bareRepo(path.join(tempDir('gren-mirror-'), 'index.git'));
  // The default quiet time: a burst whose commits come less than 200 ms apart is one sync.
  const reg = await registryFor(t, { MIRROR_URLS: mirror }, { mirrors: { settleMs: 200 } });
  const source = reg.registry.deps.index.gitDir;
  await mirrorEqual(source, mirror);
  const token = await publisher(reg, 'robin@example.com', ['acme']);
  const before = linesOf(reg, 'mirror_pushed').length;
  const publishes = 16;
  const lastAck = await burst(reg, token, publishes);
  await mirrorEqual(source, mirror);
  const lag = performance.now() - lastAck;
  await fsck(mirror);
  const syncs = linesOf(reg, 'mirror_pushed').length - before;
  t.is((await registryRefs(mirror)).split('\n').length, 1 + 2 * publishes);
  t.like(mirrorStatus(reg), { state: 'in-sync', backlogSince: null, consecutiveFailures: 0, lastError: null });

  // A private package's commit is in private.git only: nothing of it reaches a mirror.
  const secret = bundle({ name: 'acme/secret', version: '1.0.0', private: true, padding: 2000 });
  await published(reg.url, token, 'acme/secret', '1.0.0', secret);
  await burst(reg, token, 1, publishes);
  await mirrorEqual(source, mirror);
  t.false((await registryRefs(mirror)).includes('acme/refs/namespaces/secret'));
  await t.throwsAsync(gitCmd(['--git-dir', mirror, 'cat-file', '-e', blobId(secret)]));
  t.log(`path mirror: ${publishes} publishes, ${syncs} syncs; lag after the last publish's answer: ${Math.round(lag)} ms`);
});

test('over HTTP with Basic auth: a burst and a revoke reach the mirror, and the token is in no log line', async (t) => {
  const password = `tok_${crypto.randomBytes(12).toString('hex')}`;
  const { server, gitDir: mirror } = await httpMirror(t, password);
  const reg = await registryFor(t, { MIRROR_URLS: server.repoUrl('index.git') });
  const source = reg.registry.deps.index.gitDir;
  await mirrorEqual(source, mirror);
  const token = await publisher(reg, 'robin@example.com', ['acme']);
  const lastAck = await burst(reg, token, 8);
  await mirrorEqual(source, mirror);
  t.log(`HTTP mirror: 8 publishes; lag after the last publish's answer: ${Math.round(performance.now() - lastAck)} ms`);

  await expectJson(await revokeCall(reg.url, token, 'acme/lib', '1.0.3', 'legal takedown'), 200);
  await mirrorEqual(source, mirror);
  const refs = await registryRefs(mirror);
  t.false(refs.includes(packagePaths('acme/lib').bundleRef('1.0.3')));
  t.false(refs.includes(packagePaths('acme/lib').tagRef('1.0.3')));
  t.true(refs.includes(packagePaths('acme/lib').bundleRef('1.0.4')));
  await fsck(mirror);

  t.true(server.requests.some((r) => r.method === 'POST' && r.path.endsWith('/git-receive-pack')));
  t.true(server.requests.every((r) => r.authorized), 'every request carried the credentials: no challenge was needed');
  const log = JSON.stringify(reg.log.lines);
  t.false(log.includes(password));
  t.true(log.includes(`http://***@127.0.0.1:${server.port}/index.git`));
});

test("a wrong token is reported once, and neither it nor the URL's credentials are logged", async (t) => {
  const { server } = await httpMirror(t, 'the-right-one');
  const wrong = `tok_${crypto.randomBytes(12).toString('hex')}`;
  const reg = await registryFor(t, { MIRROR_URLS: server.repoUrl('index.git', { user: 'x-access-token', password: wrong }) });
  const status = await mirrorReaches(reg, (s) => s.consecutiveFailures >= 3);
  t.is(status.state, 'failing');
  t.regex(status.lastError?.message ?? '', /refused the credentials/);
  t.is(linesOf(reg, 'mirror_failed').length, 1);
  t.false(JSON.stringify(reg.log.lines).includes(wrong));
  t.false(JSON.stringify(status).includes(wrong));
});

/** `gren_registry_mirrors_behind` as the registry's metrics listener answers it. */
async function mirrorsBehind(reg: MailRegistry): Promise<number> {
  const text = await (await fetch(new URL('/metrics', reg.registry.metricsUrl() as string))).text();
  return Number(/^gren_registry_mirrors_behind (\S+)$/m.exec(text)?.[1]);
}

test('a path mirror moved away for a while catches up when it is back, losing no change', async (t) => {
  const home = tempDir('gren-mirror-');
  const mirror = await bareRepo(path.join(home, 'index.git'));
  const reg = await registryFor(t, { MIRROR_URLS: mirror, METRICS_PORT: '0' });
  const source = reg.registry.deps.index.gitDir;
  const token = await publisher(reg, 'robin@example.com', ['acme']);
  await burst(reg, token, 2);
  await mirrorEqual(source, mirror);
  fs.renameSync(mirror, path.join(home, 'away.git'));
  await burst(reg, token, 3, 2);
  const down = await mirrorReaches(reg, (s) => s.consecutiveFailures >= 2);
  t.is(down.state, 'failing');
  t.not(down.backlogSince, null);
  t.is(await mirrorsBehind(reg), 1);
  await expectJson(await revokeCall(reg.url, token, 'acme/lib', '1.0.0', 'withdrawn'), 200);
  fs.renameSync(path.join(home, 'away.git'), mirror);
  await mirrorEqual(source, mirror);
  await fsck(mirror);
  t.false((await registryRefs(mirror)).includes(packagePaths('acme/lib').tagRef('1.0.0')));
  t.like(await mirrorReaches(reg, (s) => s.state === 'in-sync'), { consecutiveFailures: 0, backlogSince: null });
  t.is(await mirrorsBehind(reg), 0);
  t.is(linesOf(reg, 'mirror_failed').length, 1);
  t.is(linesOf(reg, 'mirror_recovered').length, 1);
});

test('an HTTP mirror that is down for a while catches up when its host is back', async (t) => {
  const password = 'secret-of-the-host';
  const first = await httpMirror(t, password);
  const reg = await registryFor(t, { MIRROR_URLS: first.server.repoUrl('index.git') });
  const source = reg.registry.deps.index.gitDir;
  await mirrorEqual(source, first.gitDir);
  await first.server.close();
  const token = await publisher(reg, 'robin@example.com', ['acme']);
  await burst(reg, token, 3);
  await mirrorReaches(reg, (s) => s.consecutiveFailures >= 2);
  const back = await startGitHttpServer({ root: first.root, user: 'x-access-token', password, port: first.server.port });
  t.teardown(() => back.close());
  await mirrorEqual(source, first.gitDir);
  await fsck(first.gitDir);
  await mirrorReaches(reg, (s) => s.state === 'in-sync');
  t.pass();
});

/** A registry on a data folder of its own, pushing to an empty path mirror, stopped by the test itself; once the mirror equals it. */
async function firstRunWithMirror() {
  const home = tempDir('gren-mirror-');
  const mirror = await bareRepo(path.join(home, 'index.git'));
  const dataDir = tempDir();
  const first = await startRegistryWithMail({ env: { MIRROR_URLS: mirror }, dataDir, overrides: { mirrors: quickMirrors } });
  const source = first.registry.deps.index.gitDir;
  await mirrorEqual(source, mirror);
  return { home, mirror, dataDir, first, source };
}

test('changes made while the registry was stopped with its mirror away reach the mirror after a restart', async (t) => {
  const { home, mirror, dataDir, first, source } = await firstRunWithMirror();
  fs.renameSync(mirror, path.join(home, 'away.git'));
  const token = await publisher(first, 'robin@example.com', ['acme']);
  // 52 content refs: more than a sync sets one by one, so they go as one wildcard refspec.
  await burst(first, token, 26);
  await mirrorReaches(first, (s) => s.state === 'failing');
  await first.close();
  fs.renameSync(path.join(home, 'away.git'), mirror);
  t.notDeepEqual(await registryRefs(mirror), await registryRefs(source));

  const second = await registryFor(t, { MIRROR_URLS: mirror }, { dataDir });
  await mirrorEqual(source, mirror);
  await fsck(mirror);
  t.like(linesOf(second, 'mirror_pushed')[0], { set: 52 + 1, deleted: 0, pushes: 1 }, 'the content refs and main, in one push');
});

test('a mirror with a commit of its own on main and a ref of its own is reported and left alone; MIRROR_FORCE overwrites it', async (t) => {
  const { home, mirror, dataDir, first, source } = await firstRunWithMirror();
  // Someone commits on the mirror's main, and adds a ref in a package namespace.
  const work = path.join(home, 'work');
  await gitCmd(['clone', '--quiet', '--branch', 'main', mirror, work]);
  await gitCmd(['-C', work, '-c', 'user.name=Someone', '-c', 'user.email=someone@example.com', 'commit', '--quiet', '--allow-empty', '-m', 'Of its own']);
  await gitCmd(['-C', work, 'push', '--quiet', 'origin', 'HEAD:refs/heads/main', 'HEAD:refs/namespaces/other/refs/namespaces/pkg/refs/tags/9.9.9']);
  const theirs = (await gitCmd(['--git-dir', mirror, 'rev-parse', 'main'])).trim();

  const token = await publisher(first, 'robin@example.com', ['acme']);
  await burst(first, token, 2);
  const status = await mirrorReaches(first, (s) => s.state === 'diverged' && s.consecutiveFailures >= 2);
  t.deepEqual(status.diverged.map((d) => d.ref).sort(), ['refs/heads/main', 'refs/namespaces/other/refs/namespaces/pkg/refs/tags/9.9.9']);
  t.is((await gitCmd(['--git-dir', mirror, 'rev-parse', 'main'])).trim(), theirs, 'main is left as the mirror has it');
  const refs = await registryRefs(mirror);
  t.true(refs.includes(packagePaths('acme/lib').tagRef('1.0.1')), 'new versions still reach it');
  t.true(refs.includes('refs/namespaces/other/refs/namespaces/pkg/refs/tags/9.9.9'));
  t.is(linesOf(first, 'mirror_diverged').length, 1);
  t.is(linesOf(first, 'mirror_diverged')[0]?.level, 'error');
  await first.close();

  const forced = await registryFor(t, { MIRROR_URLS: mirror, MIRROR_FORCE: '1' }, { dataDir });
  await mirrorEqual(source, mirror);
  await fsck(mirror);
  t.is(linesOf(forced, 'mirror_force').length, 1);
  t.false((await registryRefs(mirror)).includes('9.9.9'));
});

test('changes committed during a push are taken by one more push after it', async (t) => {
  const { server, gitDir: mirror } = await httpMirror(t, 'secret-of-the-host');
  const reg = await registryFor(t, { MIRROR_URLS: server.repoUrl('index.git') });
  const source = reg.registry.deps.index.gitDir;
  await mirrorEqual(source, mirror);
  const token = await publisher(reg, 'robin@example.com', ['acme']);
  const before = linesOf(reg, 'mirror_pushed').length;
  server.hold();
  await burst(reg, token, 1);
  await eventually(() => (server.held() > 0 ? true : null), () => 'a sync waiting on the host');
  await burst(reg, token, 15, 1);
  t.true(mirrorStatus(reg).pushing);
  t.not(mirrorStatus(reg).backlogSince, null);
  server.release();
  await mirrorEqual(source, mirror);
  await mirrorReaches(reg, (s) => s.state === 'in-sync');
  t.is(linesOf(reg, 'mirror_pushed').length - before, 2, 'the sync under way, then one for the 15 publishes made meanwhile');
});

test('a Git process that hangs is killed with its group after its limit; the token is on no command line', async (t) => {
  const password = `tok_${crypto.randomBytes(12).toString('hex')}`;
  const { server } = await httpMirror(t, password);
  server.hold();
  const reg = await registryFor(t, { MIRROR_URLS: server.repoUrl('index.git') }, { mirrors: { listTimeoutMs: 1500, initialDelayMs: 60_000 } });
  await eventually(() => (server.held() > 0 ? true : null), () => 'a sync waiting on the host');
  const running = commandLinesWith(`127.0.0.1:${server.port}`);
  t.true(running.some((line) => line.includes('ls-remote')), running.join('\n'));
  t.false(running.some((line) => line.includes(password)));
  const status = await mirrorReaches(reg, (s) => s.consecutiveFailures >= 1);
  t.regex(status.lastError?.message ?? '', /took longer than 1500 ms and was killed/);
  t.deepEqual(commandLinesWith(`127.0.0.1:${server.port}`), [], 'git and its transport helper are gone');
});

test('close lets a push under way finish for a bounded time, then kills it', async (t) => {
  const { server } = await httpMirror(t, 'secret-of-the-host');
  server.hold();
  const reg = await registryFor(t, { MIRROR_URLS: server.repoUrl('index.git') }, { mirrors: { closeWaitMs: 300 } });
  await eventually(() => (server.held() > 0 ? true : null), () => 'a sync waiting on the host');
  const started = performance.now();
  await reg.close();
  const took = performance.now() - started;
  t.true(took >= 250 && took < 5000, `closed in ${Math.round(took)} ms`);
  t.deepEqual(commandLinesWith(`127.0.0.1:${server.port}`), []);
});

test('SIGTERM exits promptly while a push hangs', async (t) => {
  const { server } = await httpMirror(t, 'secret-of-the-host');
  server.hold();
  const registry = await startRegistryProcess({ REGISTRY_DATA: tempDir(), MIRROR_URLS: server.repoUrl('index.git') });
  t.teardown(() => registry.stop());
  await eventually(() => (server.held() > 0 ? true : null), () => 'a sync waiting on the host');
  const started = performance.now();
  const { code } = await registry.stop('SIGTERM');
  const took = performance.now() - started;
  t.is(code, 0);
  t.true(took < 15_000, `exited in ${Math.round(took)} ms`);
  t.deepEqual(commandLinesWith(`127.0.0.1:${server.port}`), []);
});

test('credentials go to git in a header through the environment, scoped to the URL; other remotes pass as they are', (t) => {
  const invocation = remoteInvocation({ url: 'https://x-access-token:ghp_abc%2Fdef@github.com/org/index.git', name: 'https://***@github.com/org/index.git' });
  t.is(invocation.url, 'https://github.com/org/index.git');
  t.like(invocation.env, {
    GIT_CONFIG_COUNT: '2',
    GIT_CONFIG_KEY_0: 'http.https://github.com/org/index.git.extraHeader',
    GIT_CONFIG_VALUE_0: `Authorization: Basic ${Buffer.from('x-access-token:ghp_abc/def').toString('base64')}`,
    GIT_CONFIG_KEY_1: 'credential.helper',
    GIT_CONFIG_VALUE_1: '',
  });
  for (const url of ['git@github.com:org/index.git', 'ssh://git@host/index.git', '/srv/mirror.git', 'https://github.com/org/index.git']) {
    t.deepEqual(remoteInvocation({ url, name: url }), { url, env: {} });
  }
});
