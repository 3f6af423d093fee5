import test from 'ava';
import {
  call,
  createIdentity,
  createToken,
  expectError,
  expectJson,
  loggedIn,
  movableClock,
  readLoginMail,
  requestLogin,
  startRegistryWithMail,
  type MailRegistry,
} from './helpers/accounts.ts';
import { accountsDefaults, type AccountsOptions } from '../gateway/accounts/accounts.ts';

const day = 86_400_000;

async function start(t: import('ava').ExecutionContext, accounts: Partial<AccountsOptions> = {}) {
  const clock = movableClock(new Date('2030-01-01T00:00:00Z'));
  const reg = await startRegistryWithMail({ env: { TRUST_PROXY: '1' }, overrides: { clock, accounts } });
  t.teardown(() => reg.close());
  return Object.assign(reg, { clock });
}

/** Logs in by code from a client at `address` running `agent` (through the trusted proxy's header). */
async function loginFrom(reg: MailRegistry, email: string, address: string, agent: string): Promise<string> {
  const headers = { 'x-forwarded-for': address, 'user-agent': agent };
  const fetchSessionToken = await requestLogin(reg, email, headers);
  const { code } = readLoginMail(await reg.smtp.waitForMail(email));
  const res = await call(reg.url, 'POST', '/session/fetch', { body: { fetchSessionToken, emailConfirmationCode: code }, headers });
  return (await expectJson<{ sessionToken: string }>(res, 200)).sessionToken;
}

type Listed = { id: string; current: boolean; created: string; lastUsed: string; lastAddress: string | null; lastUserAgent: string | null; expires: string };
const list = async (reg: MailRegistry, token: string, headers: Record<string, string> = {}) =>
  expectJson<Listed[]>(await call(reg.url, 'GET', '/sessions', { token, headers }), 200);
const alive = async (reg: MailRegistry, token: string) => (await call(reg.url, 'GET', '/session', { token })).status;

test('a session ends after 30 days unused, and after 90 days however used', async (t) => {
  t.is(accountsDefaults.sessionIdleMs, 30 * day);
  t.is(accountsDefaults.sessionLifetimeMs, 90 * day);
  const reg = await start(t);
  const busy = await loggedIn(reg, 'robin@example.com');
  const idle = await loggedIn(reg, 'robin@example.com');
  let now = 0;
  const on = (ms: number) => {
    reg.clock.advance(ms - now);
    now = ms;
  };
  on(29 * day);
  t.is(await alive(reg, busy), 200);
  on(30 * day + 1000);
  t.is(await alive(reg, idle), 401, 'unused for 30 days');
  for (const used of [58, 87]) {
    on(used * day);
    t.is(await alive(reg, busy), 200, `used on day ${used}`);
  }
  on(90 * day + 1000);
  await expectError(await call(reg.url, 'GET', '/session', { token: busy }), 401, 'unauthorized', t);
});

test('the session lifetimes can be set (idle and absolute)', async (t) => {
  const reg = await start(t, { sessionIdleMs: 3_600_000, sessionLifetimeMs: 3 * 3_600_000 });
  const token = await loggedIn(reg, 'robin@example.com');
  const [listed] = await list(reg, token);
  t.is(listed?.expires, new Date(reg.clock.now().getTime() + 3_600_000).toISOString(), 'ends an hour after its last use');
  for (let minutes = 55; minutes < 180; minutes += 55) {
    reg.clock.advance(55 * 60_000);
    t.is(await alive(reg, token), 200, `used ${minutes} minutes after the login`);
  }
  reg.clock.advance(55 * 60_000);
  t.is(await alive(reg, token), 401, 'three hours after the login, though used within the hour');
});

test('GET /sessions lists the caller’s live sessions with when and where each was last used, never a secret', async (t) => {
  const reg = await start(t);
  const laptop = await loginFrom(reg, 'robin@example.com', '203.0.113.7', 'gren-registry/1 laptop');
  reg.clock.advance(60_000);
  const server = await loginFrom(reg, 'robin@example.com', '2001:db8::9', 'gren-registry/1 server');
  const other = await loggedIn(reg, 'kim@example.com');
  reg.clock.advance(5 * 60_000);

  const listed = await list(reg, laptop, { 'x-forwarded-for': '198.51.100.4', 'user-agent': 'curl/8' });
  t.is(listed.length, 2);
  const [first, second] = listed as [Listed, Listed];
  t.deepEqual(Object.keys(first).sort(), ['created', 'current', 'expires', 'id', 'lastAddress', 'lastUsed', 'lastUserAgent']);
  t.like(first, { current: true, lastAddress: '198.51.100.4', lastUserAgent: 'curl/8', created: '2030-01-01T00:00:00.000Z', lastUsed: '2030-01-01T00:06:00.000Z' });
  t.is(first.expires, '2030-01-31T00:06:00.000Z');
  // Not used since the login: where it logged in from.
  t.like(second, { current: false, lastAddress: '2001:db8::9', lastUserAgent: 'gren-registry/1 server', created: '2030-01-01T00:01:00.000Z', lastUsed: '2030-01-01T00:01:00.000Z' });
  t.is(second.expires, '2030-01-31T00:01:00.000Z');
  const text = JSON.stringify(listed);
  for (const secret of [laptop, server, other]) t.false(text.includes(secret.slice(4, 20)));
  t.is((await list(reg, other)).length, 1, 'each user sees only their own');
});

test('DELETE /sessions/<id> logs one of the caller’s sessions out; nobody else’s', async (t) => {
  const reg = await start(t);
  const laptop = await loggedIn(reg, 'robin@example.com');
  const phone = await loggedIn(reg, 'robin@example.com');
  const kim = await loggedIn(reg, 'kim@example.com');
  const [phoneListed] = (await list(reg, phone)).filter((s) => s.current);
  const [kimListed] = await list(reg, kim);

  await expectError(await call(reg.url, 'DELETE', `/sessions/${kimListed!.id}`, { token: laptop }), 404, 'not_found');
  for (const id of ['0', '999999', 'abc', '1.5', '-1', '99999999999999999999']) {
    await expectError(await call(reg.url, 'DELETE', `/sessions/${id}`, { token: laptop }), 404, 'not_found');
  }
  t.is(await alive(reg, kim), 200);

  t.deepEqual(await expectJson(await call(reg.url, 'DELETE', `/sessions/${phoneListed!.id}`, { token: laptop }), 200), {});
  t.is(await alive(reg, phone), 401);
  await expectError(await call(reg.url, 'DELETE', `/sessions/${phoneListed!.id}`, { token: laptop }), 404, 'not_found');
  t.deepEqual((await list(reg, laptop)).map((s) => s.current), [true]);

  const [own] = await list(reg, laptop);
  await expectJson(await call(reg.url, 'DELETE', `/sessions/${own!.id}`, { token: laptop }), 200);
  t.is(await alive(reg, laptop), 401, 'its own session too: a logout');
});

test('an expired session is neither listed nor revocable', async (t) => {
  const reg = await start(t, { sessionIdleMs: 3_600_000 });
  const old = await loggedIn(reg, 'robin@example.com');
  const [oldListed] = await list(reg, old);
  reg.clock.advance(3_600_000);
  const fresh = await loggedIn(reg, 'robin@example.com');
  t.deepEqual((await list(reg, fresh)).map((s) => s.current), [true]);
  await expectError(await call(reg.url, 'DELETE', `/sessions/${oldListed!.id}`, { token: fresh }), 404, 'not_found');
});

test('sessions are managed with a session: 401 without one, 403 for an automation token', async (t) => {
  const reg = await start(t);
  const robin = await loggedIn(reg, 'robin@example.com');
  await createIdentity(reg, robin, 'gren-lang');
  const { token } = await createToken(reg, robin, { identity: 'gren-lang', role: 'publish' });
  const [own] = await list(reg, robin);
  await expectError(await call(reg.url, 'GET', '/sessions'), 401, 'unauthorized');
  await expectError(await call(reg.url, 'DELETE', `/sessions/${own!.id}`), 401, 'unauthorized');
  await expectError(await call(reg.url, 'GET', '/sessions', { token }), 403, 'forbidden');
  await expectError(await call(reg.url, 'DELETE', `/sessions/${own!.id}`, { token }), 403, 'forbidden');
  await expectError(await call(reg.url, 'DELETE', '/sessions', { token: robin }), 405, 'method_not_allowed');
  t.is(await alive(reg, robin), 200);
});

test('GET /tokens says where each token was last used', async (t) => {
  const reg = await start(t);
  const robin = await loggedIn(reg, 'robin@example.com');
  await createIdentity(reg, robin, 'gren-lang');
  const { token } = await createToken(reg, robin, { identity: 'gren-lang', role: 'download' });
  const listed = async () => (await expectJson<Array<Record<string, unknown>>>(await call(reg.url, 'GET', '/tokens', { token: robin }), 200))[0];
  t.like(await listed(), { lastUsed: null, lastAddress: null, lastUserAgent: null });
  await call(reg.url, 'GET', '/session', { token, headers: { 'x-forwarded-for': '192.0.2.44', 'user-agent': 'ci-runner/3' } });
  t.like(await listed(), { lastUsed: reg.clock.now().toISOString(), lastAddress: '192.0.2.44', lastUserAgent: 'ci-runner/3' });
  // Used again within the minute, from elsewhere: the place is recorded at once.
  await call(reg.url, 'GET', '/session', { token, headers: { 'x-forwarded-for': '192.0.2.45', 'user-agent': 'ci-runner/3' } });
  t.like(await listed(), { lastAddress: '192.0.2.45' });
});
