import test, { type ExecutionContext } from 'ava';
import path from 'node:path';
import { bundle } from './helpers/bundle.ts';
import { published, publisher, putBundle, revokeCall } from './helpers/fixtures.ts';
import { call, expectError, expectJson, requestLogin, startRegistryWithMail, type MailRegistry } from './helpers/accounts.ts';
import { freePort, startRegistry, tempDir } from './helpers/registry.ts';
import { gitCmd, hangingGitFetch } from './helpers/git.ts';

/** One sample of the exposition: its metric name, labels and value. */
type Sample = { name: string; labels: Record<string, string>; value: number };

/**
 * Prometheus' text format, read as a scraper reads it: `# HELP` and `# TYPE` lines, then one
 * sample a line, `name{label="value",...} number`, label values with `\\`, `\"` and `\n` escaped.
 */
function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1] as string, type[2] as string);
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample: ${line}`);
    const labels: Record<string, string> = {};
    for (const label of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[label[1] as string] = (label[2] as string).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    const raw = match[3] as string;
    samples.push({ name: match[1] as string, labels, value: raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw) });
  }
  return { samples, types };
}

type Scrape = ReturnType<typeof parseExposition> & {
  /** The value of the one sample of `name` whose labels include `labels`, summed over the rest; 0 when none. */
  value(name: string, labels?: Record<string, string>): number;
  has(name: string): boolean;
};

async function scrape(reg: MailRegistry): Promise<Scrape> {
  const url = reg.registry.metricsUrl();
  if (url === null) throw new Error('no metrics listener');
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`);
  if (!res.headers.get('content-type')?.startsWith('text/plain; version=0.0.4')) throw new Error(`content type ${res.headers.get('content-type')}`);
  const parsed = parseExposition(await res.text());
  const matching = (name: string, labels: Record<string, string>) =>
    parsed.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return {
    ...parsed,
    value: (name, labels = {}) => matching(name, labels).reduce((sum, s) => sum + s.value, 0),
    has: (name) => parsed.samples.some((s) => s.name === name),
  };
}

async function waitFor(t: ExecutionContext, what: string, condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) {
      t.fail(`${what}: not within ${timeoutMs} ms`);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A webhook target nothing listens on: every delivery fails and stays owed. */
async function deadWebhook(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}/hook`;
}

let reg: MailRegistry;
let token: string;
test.before(async () => {
  reg = await startRegistryWithMail({
    env: { METRICS_PORT: '0', PUBLISH_BURST: '2', GIT_PROCESSES: '1', GIT_QUEUE: '1', WEBHOOK_URLS: await deadWebhook(), WEBHOOK_SECRET: 'hook-secret' },
    // Failed deliveries are retried an hour later: they stay owed for the test.
    overrides: { notifications: { initialDelayMs: 3_600_000 } },
  });
  token = await publisher(reg, 'owner@example.com', ['acme']);
});
test.after.always(() => reg?.close());

test.serial('a login counts its mail and its requests; a mail the SMTP server refuses counts as failed', async (t) => {
  const before = await scrape(reg);
  t.true(before.value('gren_registry_login_mails_total', { result: 'sent' }) >= 1, 'the publisher logged in by mail');
  await publisher(reg, 'second@example.com', []);
  reg.smtp.refuseNext(1);
  await expectError(await call(reg.url, 'POST', '/session', { body: { email: 'third@example.com' } }), 503, 'unavailable', t);
  const after = await scrape(reg);
  t.is(after.value('gren_registry_login_mails_total', { result: 'sent' }) - before.value('gren_registry_login_mails_total', { result: 'sent' }), 1);
  t.is(after.value('gren_registry_login_mails_total', { result: 'failed' }) - before.value('gren_registry_login_mails_total', { result: 'failed' }), 1);
  // POST /session twice and POST /session/fetch once: the login route class, by status.
  const logins = (s: Scrape, code: string) => s.value('gren_registry_http_requests_total', { route: 'login', code });
  t.is(logins(after, '200') - logins(before, '200'), 2);
  t.is(logins(after, '503') - logins(before, '503'), 1);
  t.is(after.value('gren_registry_http_request_duration_seconds_count', { route: 'login' }) - before.value('gren_registry_http_request_duration_seconds_count', { route: 'login' }), 3);
});

test.serial('publishes and revokes by outcome, commits by latency and batch size, the rate limit, the notifications owed', async (t) => {
  const before = await scrape(reg);
  await published(reg.url, token, 'acme/lib', '1.0.0', bundle({ name: 'acme/lib', version: '1.0.0' }));
  await expectError(await putBundle(reg.url, token, 'acme/lib', '1.0.0', bundle({ name: 'acme/lib', version: '1.0.0' })), 409, 'version_exists', t);
  await published(reg.url, token, 'acme/lib', '1.1.0', bundle({ name: 'acme/lib', version: '1.1.0' }));
  // PUBLISH_BURST is 2, and a refused publish gives its token back: the third publish is one too many.
  await expectError(await putBundle(reg.url, token, 'acme/lib', '1.2.0', bundle({ name: 'acme/lib', version: '1.2.0' })), 429, 'rate_limited', t);
  await expectJson(await revokeCall(reg.url, token, 'acme/lib', '1.0.0', 'broken'), 200);
  await expectError(await revokeCall(reg.url, null, 'acme/lib', '1.1.0', 'not mine'), 401, 'unauthorized', t);

  const after = await scrape(reg);
  const moved = (name: string, labels: Record<string, string> = {}) => after.value(name, labels) - before.value(name, labels);
  t.is(moved('gren_registry_publishes_total', { outcome: 'ok' }), 2);
  t.is(moved('gren_registry_publishes_total', { outcome: 'refused', code: 'version_exists' }), 1);
  t.is(moved('gren_registry_publishes_total', { outcome: 'refused', code: 'rate_limited' }), 1);
  t.is(moved('gren_registry_publishes_total', { outcome: 'failed' }), 0);
  t.is(moved('gren_registry_revokes_total', { outcome: 'ok' }), 1);
  t.is(moved('gren_registry_revokes_total', { outcome: 'refused', code: 'unauthorized' }), 1);
  t.is(moved('gren_registry_rate_limit_refusals_total', { limit: 'publish_user' }), 1);
  t.is(moved('gren_registry_http_requests_total', { route: 'publish', code: '201' }), 2);
  t.is(moved('gren_registry_http_requests_total', { route: 'revoke', code: '200' }), 1);

  // Three commits of the public index (two publishes, a revoke), each its own batch of one plan here.
  t.is(moved('gren_registry_commit_duration_seconds_count', { repo: 'public' }), 3);
  t.true(moved('gren_registry_commit_duration_seconds_sum', { repo: 'public' }) > 0);
  t.is(moved('gren_registry_commit_batch_plans_count', { repo: 'public' }), 3);
  t.is(moved('gren_registry_commit_batch_plans_sum', { repo: 'public' }), 3);
  t.is(moved('gren_registry_commit_batch_plans_bucket', { repo: 'public', le: '1' }), 3);
  t.is(after.value('gren_registry_commit_queue_plans', { repo: 'public' }), 0);
  t.is(after.value('gren_registry_commit_queue_plans', { repo: 'private' }), 0);

  // Each change owes the dead webhook a delivery; the oldest ages as time passes.
  t.is(moved('gren_registry_notifications_owed'), 3);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  t.true((await scrape(reg)).value('gren_registry_notifications_oldest_owed_age_seconds') >= 1);
});

test.serial('a batch of concurrent publishes is one commit duration with its plans counted', async (t) => {
  // Two users in two identities of their own, each within its burst of 2.
  const first = await publisher(reg, 'batch1@example.com', ['batch1']);
  const second = await publisher(reg, 'batch2@example.com', ['batch2']);
  const before = await scrape(reg);
  // Four publishes at once: the commit queue runs what arrives while a batch is stored together.
  const runs = await Promise.all(
    ['1.0.0', '2.0.0'].flatMap((version) => [
      putBundle(reg.url, first, 'batch1/one', version, bundle({ name: 'batch1/one', version })),
      putBundle(reg.url, second, 'batch2/two', version, bundle({ name: 'batch2/two', version })),
    ]),
  );
  t.deepEqual(runs.map((r) => r.status), [201, 201, 201, 201]);
  const after = await scrape(reg);
  const moved = (name: string) => after.value(name, { repo: 'public' }) - before.value(name, { repo: 'public' });
  // However the four were grouped, every plan was in exactly one batch.
  t.is(moved('gren_registry_commit_batch_plans_sum'), 4);
  t.true(moved('gren_registry_commit_batch_plans_count') >= 1 && moved('gren_registry_commit_batch_plans_count') <= 4);
  t.is(moved('gren_registry_commit_duration_seconds_count'), moved('gren_registry_commit_batch_plans_count'));
});

test.serial('index files, Git clones, unknown paths by route class; Git processes running, and a full queue refused', async (t) => {
  const before = await scrape(reg);
  for (let i = 0; i < 3; i++) t.is((await fetch(`${reg.url}/index/config.json`)).status, 200);
  t.is((await fetch(`${reg.url}/no/such/thing`)).status, 404);
  const dir = path.join(tempDir(), 'clone');
  await gitCmd(['clone', '--quiet', `${reg.url}/index.git`, dir]);
  const cloned = await scrape(reg);
  const moved = (name: string, labels: Record<string, string>) => cloned.value(name, labels) - before.value(name, labels);
  t.is(moved('gren_registry_http_requests_total', { route: 'index', code: '200' }), 3);
  t.is(moved('gren_registry_http_request_duration_seconds_count', { route: 'index' }), 3);
  t.is(moved('gren_registry_http_requests_total', { route: 'other', code: '404' }), 1);
  t.true(moved('gren_registry_http_requests_total', { route: 'git', code: '200' }) >= 2, 'a clone is at least the advertisement and a fetch');
  t.is(cloned.value('gren_registry_git_processes', { state: 'running' }), 0);
  t.is(cloned.value('gren_registry_git_processes', { state: 'queued' }), 0);

  // GIT_PROCESSES=1, GIT_QUEUE=1: a fetch holds the one process, a second waits, a third is a capacity refusal.
  const running = hangingGitFetch(reg.url, '/index.git');
  t.is((await running.response).statusCode, 200);
  t.is((await scrape(reg)).value('gren_registry_git_processes', { state: 'running' }), 1);
  const waiting = hangingGitFetch(reg.url, '/index.git');
  const gitState = async (state: string) => (await scrape(reg)).value('gren_registry_git_processes', { state });
  await waitFor(t, 'the second fetch waits', async () => (await gitState('queued')) === 1);
  await expectError(await fetch(`${reg.url}/index.git/info/refs?service=git-upload-pack`), 503, 'unavailable', t);
  running.request.destroy();
  t.is((await waiting.response).statusCode, 200);
  waiting.request.destroy();
  await waitFor(t, 'the held processes end', async () => (await gitState('running')) === 0 && (await gitState('queued')) === 0);
  const refused = await scrape(reg);
  t.is(refused.value('gren_registry_capacity_refusals_total', { limit: 'git_queue' }) - before.value('gren_registry_capacity_refusals_total', { limit: 'git_queue' }), 1);
  t.is(refused.value('gren_registry_http_requests_total', { route: 'git', code: '503' }) - before.value('gren_registry_http_requests_total', { route: 'git', code: '503' }), 1);
});

test.serial("the process's own metrics are there for the soak test: memory, file descriptors, event loop lag, GC", async (t) => {
  const scraped = await scrape(reg);
  t.true(scraped.value('process_resident_memory_bytes') > 10 * 1024 * 1024);
  t.true(scraped.value('process_open_fds') > 0);
  t.true(scraped.has('nodejs_eventloop_lag_seconds'));
  t.true(scraped.has('nodejs_heap_size_used_bytes'));
  t.is(scraped.types.get('nodejs_gc_duration_seconds'), 'histogram');
  // Every metric of the registry's own is named with its prefix and declares its type.
  for (const name of scraped.types.keys()) t.true(name.startsWith('gren_registry_') || name.startsWith('process_') || name.startsWith('nodejs_'), name);
});

test.serial('push mirrors report through their registration point: mirrors behind and the age of the oldest unpushed change', async (t) => {
  t.is((await scrape(reg)).value('gren_registry_mirrors_behind'), 0, 'no mirror is behind before mirrors register');
  const since = new Date(Date.now() - 5000);
  reg.registry.deps.metrics.watchMirrors(() => [
    { mirror: 'backup', backlogSince: since },
    { mirror: 'host', backlogSince: null },
  ]);
  const scraped = await scrape(reg);
  t.is(scraped.value('gren_registry_mirrors_behind'), 1);
  t.true(scraped.value('gren_registry_mirror_unpushed_age_seconds', { mirror: 'backup' }) >= 5);
  t.is(scraped.value('gren_registry_mirror_unpushed_age_seconds', { mirror: 'host' }), 0);
});

test.serial('the public port never serves the metrics; the metrics port serves nothing else', async (t) => {
  await expectError(await fetch(`${reg.url}/metrics`), 404, 'not_found', t);
  const metricsUrl = reg.registry.metricsUrl() as string;
  t.not(new URL(metricsUrl).port, new URL(reg.url).port);
  await expectError(await fetch(new URL('/', metricsUrl)), 404, 'not_found', t);
  await expectError(await fetch(new URL('/index/config.json', metricsUrl)), 404, 'not_found', t);
  await expectError(await fetch(metricsUrl, { method: 'POST' }), 405, 'method_not_allowed', t);
  const head = await fetch(metricsUrl, { method: 'HEAD' });
  t.is(head.status, 200);
  t.is(await head.text(), '');
});

test('without METRICS_PORT there is no metrics listener, and /metrics is 404', async (t) => {
  const plain = await startRegistry();
  t.teardown(() => plain.close());
  t.is(plain.registry.metricsUrl(), null);
  await expectError(await fetch(`${plain.url}/metrics`), 404, 'not_found', t);
  t.false(plain.log.lines.some((line) => line.event === 'metrics_listening'));
});

test('a login request counts the login route even when refused by its rate limit', async (t) => {
  const limited = await startRegistryWithMail({ env: { METRICS_PORT: '0' }, overrides: { accounts: { loginMailPerAddress: { burst: 1, everyMs: 3_600_000 } } } });
  t.teardown(() => limited.close());
  await requestLogin(limited, 'once@example.com');
  await expectError(await call(limited.url, 'POST', '/session', { body: { email: 'once@example.com' } }), 429, 'rate_limited', t);
  const scraped = await scrape(limited);
  t.is(scraped.value('gren_registry_rate_limit_refusals_total', { limit: 'login_mail_address' }), 1);
  t.is(scraped.value('gren_registry_http_requests_total', { route: 'login', code: '429' }), 1);
  t.is(scraped.value('gren_registry_login_mails_total', { result: 'sent' }), 1);
});
