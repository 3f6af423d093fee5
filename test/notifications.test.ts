import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { bundle } from './helpers/bundle.ts';
import { published, publisher, putBundle, revokeCall } from './helpers/fixtures.ts';
import { call, expectError, expectJson, startRegistryWithMail, type MailRegistry } from './helpers/accounts.ts';
import { gitCmd } from './helpers/git.ts';
import { signatureHolds, startReceiver, type Receiver, type Received } from './helpers/receiver.ts';
import { tempDir } from './helpers/registry.ts';
import { loadConfig } from '../gateway/config.ts';
import { memoryLogger } from '../gateway/log.ts';
import { systemClock } from '../gateway/clock.ts';
import { openNotifier, type Notifier } from '../gateway/notifications/notifier.ts';
import { DatabaseSync } from 'node:sqlite';

const secret = 'a webhook secret for tests';

type Setup = { reg: MailRegistry; receiver: Receiver; token: string };

async function setUp(t: { teardown(fn: () => Promise<void> | void): void }, options: { dataDir?: string; timeoutMs?: number } = {}): Promise<Setup> {
  const receiver = await startReceiver();
  t.teardown(() => receiver.close());
  const reg = await startRegistryWithMail({
    env: { PACKAGES_SITE_URL: `${receiver.url}/docs`, WEBHOOK_URLS: `${receiver.url}/hook-a, ${receiver.url}/hook-b`, WEBHOOK_SECRET: secret },
    overrides: { notifications: { initialDelayMs: 50, maxDelayMs: 1000, timeoutMs: options.timeoutMs ?? 2000 } },
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
  });
  t.teardown(() => reg.close());
  const token = await publisher(reg, 'owner@example.com', ['acme']);
  return { reg, receiver, token };
}

const to = (where: string) => (r: Received) => r.path === where;
const hookBody = (r: Received) => JSON.parse(r.body) as { event: string; package: string; version: string; commit: string };

async function owedBecomes(notifier: Pick<Notifier, 'owed'>, count: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (notifier.owed() !== count) {
    if (Date.now() > deadline) throw new Error(`still ${notifier.owed()} deliveries owed`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('a public publish and revoke reach the documentation site and every webhook, signed', async (t) => {
  const { reg, receiver, token } = await setUp(t);
  const { commit } = await published(reg.url, token, 'acme/tool', '1.0.0', bundle({ name: 'acme/tool', version: '1.0.0' }));
  const [site] = await receiver.waitFor(to('/docs/import/init'));
  t.is(site?.method, 'POST');
  t.regex(String(site?.headers['content-type']), /^application\/x-www-form-urlencoded/);
  t.is(new URLSearchParams(site?.body).get('packageName'), 'acme/tool');
  for (const hook of ['/hook-a', '/hook-b']) {
    const [request] = await receiver.waitFor(to(hook));
    t.deepEqual(hookBody(request as Received), { event: 'publish', package: 'acme/tool', version: '1.0.0', commit });
    t.true(signatureHolds(request as Received, secret), 'signed with WEBHOOK_SECRET');
    t.false(signatureHolds(request as Received, 'another secret'));
  }

  const revokedAt = reg.registry.deps.index.head();
  await expectJson(await revokeCall(reg.url, token, 'acme/tool', '1.0.0', 'broken'), 200);
  const revokeCommit = reg.registry.deps.index.head();
  t.not(revokeCommit, revokedAt);
  const hooks = await receiver.waitFor((r) => r.path.startsWith('/hook-') && hookBody(r).event === 'revoke', 2);
  for (const request of hooks) {
    t.deepEqual(hookBody(request), { event: 'revoke', package: 'acme/tool', version: '1.0.0', commit: revokeCommit });
    t.true(signatureHolds(request, secret));
  }
  await receiver.waitFor(to('/docs/import/init'), 2);
  await owedBecomes(reg.registry.deps.notifier, 0);
  // Revoking again commits nothing, and tells no one.
  await expectJson(await revokeCall(reg.url, token, 'acme/tool', '1.0.0'), 200);
  t.is(reg.registry.deps.notifier.owed(), 0);
});

test('private packages are never notified', async (t) => {
  const { reg, receiver, token } = await setUp(t);
  await published(reg.url, token, 'acme/hidden', '1.0.0', bundle({ name: 'acme/hidden', version: '1.0.0', private: true }));
  await expectJson(await revokeCall(reg.url, token, 'acme/hidden', '1.0.0'), 200);
  await published(reg.url, token, 'acme/shown', '1.0.0', bundle({ name: 'acme/shown', version: '1.0.0' }));
  await receiver.waitFor((r) => r.path.startsWith('/hook-'), 2);
  await receiver.waitFor(to('/docs/import/init'));
  await owedBecomes(reg.registry.deps.notifier, 0);
  t.is(receiver.received.length, 3);
  t.false(receiver.received.some((r) => r.body.includes('hidden')));
});

test('a failing target is retried with growing delays until it answers 2xx; the others are not held up', async (t) => {
  const { reg, receiver, token } = await setUp(t);
  let refusals = 0;
  receiver.answer = (r) => (r.path === '/hook-a' && refusals++ < 3 ? 503 : 200);
  await published(reg.url, token, 'acme/flaky', '1.0.0', bundle({ name: 'acme/flaky', version: '1.0.0' }));
  const attempts = await receiver.waitFor(to('/hook-a'), 4);
  t.deepEqual(attempts.map((r) => r.status), [503, 503, 503, 200]);
  t.true(attempts.every((r) => r.body === attempts[0]?.body), 'every attempt carries the same event');
  const gaps = attempts.slice(1).map((r, i) => r.at - (attempts[i] as Received).at);
  t.true((gaps[2] as number) > (gaps[0] as number), `the delays grow: ${gaps.join(', ')} ms`);
  t.is(receiver.received.filter(to('/hook-b')).length, 1);
  await owedBecomes(reg.registry.deps.notifier, 0);
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.is(receiver.received.filter(to('/hook-a')).length, 4, 'nothing more once settled');
});

test('a target that hangs or refuses never delays or fails the publish', async (t) => {
  const { reg, receiver, token } = await setUp(t, { timeoutMs: 300 });
  receiver.answer = (r) => (r.path === '/hook-a' ? 'hang' : 500);
  const started = performance.now();
  await published(reg.url, token, 'acme/patient', '1.0.0', bundle({ name: 'acme/patient', version: '1.0.0' }));
  const took = performance.now() - started;
  t.true(took < 1000, `the publish took ${Math.round(took)} ms`);
  await receiver.waitFor(to('/hook-a'), 2);
  receiver.answer = () => 200;
  await owedBecomes(reg.registry.deps.notifier, 0);
  t.true(receiver.received.filter(to('/hook-a')).some((r) => r.status === 200));
});

test('deliveries owed when the registry stops are made after it starts again', async (t) => {
  const dataDir = tempDir();
  const first = await setUp(t, { dataDir });
  first.receiver.answer = () => 500;
  const { commit } = await published(first.reg.url, first.token, 'acme/later', '1.0.0', bundle({ name: 'acme/later', version: '1.0.0' }));
  await first.receiver.waitFor(to('/hook-a'));
  await first.reg.close();
  t.is(first.receiver.received.filter((r) => r.status === 200).length, 0);

  // The targets come back on the same address.
  await first.receiver.close();
  const receiver = await startReceiver(first.receiver.port);
  t.teardown(() => receiver.close());
  const again = await startRegistryWithMail({
    dataDir,
    env: { PACKAGES_SITE_URL: `${receiver.url}/docs`, WEBHOOK_URLS: `${receiver.url}/hook-a,${receiver.url}/hook-b`, WEBHOOK_SECRET: secret },
    overrides: { notifications: { initialDelayMs: 50 } },
  });
  t.teardown(() => again.close());
  for (const hook of ['/hook-a', '/hook-b']) {
    const [request] = await receiver.waitFor(to(hook));
    t.deepEqual(hookBody(request as Received), { event: 'publish', package: 'acme/later', version: '1.0.0', commit });
  }
  await receiver.waitFor(to('/docs/import/init'));
  await owedBecomes(again.registry.deps.notifier, 0);
});

test('an event an earlier version recorded before knowing its commit is settled at the next start', async (t) => {
  const receiver = await startReceiver();
  t.teardown(() => receiver.close());
  const file = path.join(tempDir(), 'notifications.sqlite');
  const config = loadConfig({ WEBHOOK_URLS: `${receiver.url}/hook`, WEBHOOK_SECRET: secret, REGISTRY_DATA: tempDir() });
  const options = { config, file, clock: systemClock, log: memoryLogger(), initialDelayMs: 50 };
  // The intents an earlier version wrote before each commit, left by a process that died.
  const db = new DatabaseSync(file);
  db.exec('CREATE TABLE intents (id INTEGER PRIMARY KEY, event TEXT NOT NULL, package TEXT NOT NULL, version TEXT NOT NULL, created TEXT NOT NULL)');
  for (const pkg of ['acme/made', 'acme/never-made']) db.prepare("INSERT INTO intents (event, package, version, created) VALUES ('publish', ?, '1.0.0', '2026-01-01')").run(pkg);
  db.close();

  const restarted = openNotifier(options);
  t.teardown(() => restarted.close());
  await restarted.recover({ head: 'h'.repeat(40), history: async function* () {}, settle: async (event) => (event.package === 'acme/made' ? 'c'.repeat(40) : null) });
  const [request] = await receiver.waitFor(to('/hook'));
  t.deepEqual(hookBody(request as Received), { event: 'publish', package: 'acme/made', version: '1.0.0', commit: 'c'.repeat(40) });
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.is(receiver.received.length, 1, 'the change that was never made is not told');
  t.is(restarted.owed(), 0);
});

test('changes committed but never recorded (a crash, or a power cut losing the last records) are found in the history at the next start', async (t) => {
  const receiver = await startReceiver();
  t.teardown(() => receiver.close());
  const file = path.join(tempDir(), 'notifications.sqlite');
  const config = loadConfig({ WEBHOOK_URLS: `${receiver.url}/hook`, WEBHOOK_SECRET: secret, REGISTRY_DATA: tempDir() });
  const options = { config, file, clock: systemClock, log: memoryLogger(), initialDelayMs: 50 };
  const id = (n: number) => String(n).repeat(40).slice(0, 40);
  const commits = [
    { commit: id(1), message: 'Create the index\n' },
    { commit: id(2), message: 'Publish acme/old 1.0.0\n' },
    { commit: id(3), message: 'Publish acme/told 1.0.0\n' },
    { commit: id(4), message: 'Update config.json\n' },
    { commit: id(5), message: 'Publish acme/lost 1.0.0\n' },
    { commit: id(6), message: 'Revoke acme/told 1.0.0\n' },
  ];
  const upTo = (n: number) => async function* () {
    for (const entry of commits.slice(0, n).reverse()) yield entry;
  };
  const first = openNotifier(options);
  await first.recover({ head: id(2), history: upTo(2), settle: async () => null });
  first.committed({ event: 'publish', package: 'acme/told', version: '1.0.0' }, id(3));
  // Delivered and recorded as such: a delivery cut short by the close would rightly be made again.
  await owedBecomes(first, 0);
  await first.close();

  const again = openNotifier(options);
  t.teardown(() => again.close());
  await again.recover({ head: id(6), history: upTo(6), settle: async () => null });
  await receiver.waitFor((r) => receiver.received.filter(to('/hook')).length >= 3 && r.path === '/hook');
  await new Promise((resolve) => setTimeout(resolve, 200));
  const told = receiver.received.filter(to('/hook')).map((r) => hookBody(r));
  t.deepEqual(
    told.map(({ event, package: pkg, commit }) => [event, pkg, commit]).sort(),
    [
      ['publish', 'acme/lost', id(5)],
      ['publish', 'acme/told', id(3)],
      ['revoke', 'acme/told', id(6)],
    ],
    'each change after the first start told once (deliveries go out several at once); nothing from before the first start',
  );
});

test('a publish whose commit was made but whose answer failed is told after the next start, and never lost', async (t) => {
  const dataDir = tempDir();
  const first = await setUp(t, { dataDir });
  // A file where the served folder needs a folder: the commit is made, then writing the served copy fails.
  const served = first.reg.registry.deps.index.servedDir as string;
  fs.mkdirSync(path.join(served, 'packages', 'acme'), { recursive: true });
  fs.writeFileSync(path.join(served, 'packages', 'acme', 'stuck'), 'in the way');
  const res = await putBundle(first.reg.url, first.token, 'acme/stuck', '1.0.0', bundle({ name: 'acme/stuck', version: '1.0.0' }));
  await expectError(res, 500, 'internal', t);
  const commit = first.reg.registry.deps.index.head();
  t.deepEqual(await expectJson(await call(first.reg.url, 'GET', '/packages/acme/stuck/latest'), 200), { version: '1.0.0' }, 'the queries tell what main holds');
  await expectError(await putBundle(first.reg.url, first.token, 'acme/stuck', '1.0.0', bundle({ name: 'acme/stuck', version: '1.0.0' })), 409, 'version_exists', t);
  await first.reg.close();

  const again = await startRegistryWithMail({
    dataDir,
    env: { WEBHOOK_URLS: `${first.receiver.url}/hook-a`, WEBHOOK_SECRET: secret },
    overrides: { notifications: { initialDelayMs: 50 } },
  });
  t.teardown(() => again.close());
  const [request] = await first.receiver.waitFor((r) => r.path === '/hook-a' && hookBody(r).package === 'acme/stuck');
  t.like(hookBody(request as Received), { event: 'publish', package: 'acme/stuck', version: '1.0.0' });
  t.is(hookBody(request as Received).commit.length, 40);
  const later = (await gitCmd(['--git-dir', again.registry.deps.index.gitDir, 'merge-base', '--is-ancestor', commit, hookBody(request as Received).commit]).then(() => true, () => false));
  t.true(later, 'the commit told holds the publish');
});
