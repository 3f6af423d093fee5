import test from 'ava';
import type { ExecutionContext } from 'ava';
import {
  addMember,
  call,
  createIdentity,
  createToken,
  expectError,
  expectJson,
  loggedIn,
  movableClock,
  startRegistryWithMail,
  type MailRegistry,
  fetchClient,
} from './helpers/accounts.ts';
import { ApiError } from '../gateway/errors.ts';

type Clock = ReturnType<typeof movableClock>;

async function start(t: ExecutionContext, clock: Clock = movableClock()): Promise<MailRegistry & { clock: Clock }> {
  const reg = await startRegistryWithMail({ overrides: { clock } });
  t.teardown(() => reg.close());
  return Object.assign(reg, { clock });
}

/** What the registry's own permission object says a bearer token may do: null when allowed, else the error code. */
function check(reg: MailRegistry, token: string, action: 'download' | 'publish' | 'admin', identity: string): string | null {
  const { accounts, permissions } = reg.registry.deps;
  try {
    permissions[action](accounts.authenticate(token, fetchClient), identity);
    return null;
  } catch (err) {
    if (err instanceof ApiError) return err.code;
    throw err;
  }
}

test('create, list and revoke a token; the list shows no secret', async (t) => {
  const reg = await start(t);
  const robin = await loggedIn(reg, 'robin@example.com');
  await createIdentity(reg, robin, 'gren-lang');
  const created = await createToken(reg, robin, { name: 'ci', identity: 'gren-lang', role: 'publish', expiresInDays: 90 });
  t.deepEqual(Object.keys(created).sort(), ['id', 'token']);
  t.regex(created.token, /^grt_[A-Za-z0-9_-]{43}$/);

  const listed = await call(reg.url, 'GET', '/tokens', { token: robin });
  const text = await listed.clone().text();
  t.false(text.includes(created.token));
  const now = reg.clock.now();
  t.deepEqual(await expectJson(listed, 200), [
    {
      id: created.id,
      name: 'ci',
      identity: 'gren-lang',
      role: 'publish',
      created: now.toISOString(),
      expires: new Date(now.getTime() + 90 * 86_400_000).toISOString(),
      lastUsed: null,
      lastAddress: null,
      lastUserAgent: null,
    },
  ]);

  t.deepEqual(await expectJson(await call(reg.url, 'GET', '/session', { token: created.token }), 200), {
    email: 'robin@example.com',
    identities: [{ name: 'gren-lang', role: 'publish' }],
  });
  t.deepEqual(await expectJson(await call(reg.url, 'DELETE', `/tokens/${created.id}`, { token: robin }), 200), {});
  t.deepEqual(await expectJson(await call(reg.url, 'GET', '/tokens', { token: robin }), 200), []);
  await expectError(await call(reg.url, 'GET', '/session', { token: created.token }), 401, 'unauthorized');
  await expectError(await call(reg.url, 'DELETE', `/tokens/${created.id}`, { token: robin }), 404, 'not_found');
});

test('a token without expiresInDays does not expire; one with it dies on time', async (t) => {
  const reg = await start(t);
  const robin = await loggedIn(reg, 'robin@example.com');
  await createIdentity(reg, robin, 'gren-lang');
  const forever = await createToken(reg, robin, { identity: 'gren-lang', role: 'download' });
  const daily = await createToken(reg, robin, { name: 'nightly', identity: 'gren-lang', role: 'download', expiresInDays: 1 });
  const list = await expectJson<Array<{ id: string; expires: string | null }>>(await call(reg.url, 'GET', '/tokens', { token: robin }), 200);
  t.deepEqual(list.map((x) => x.id), [forever.id, daily.id]);
  t.is(list[0]!.expires, null);

  reg.clock.advance(86_400_000 - 1000);
  await expectJson(await call(reg.url, 'GET', '/session', { token: daily.token }), 200);
  reg.clock.advance(1000);
  await expectError(await call(reg.url, 'GET', '/session', { token: daily.token }), 401, 'unauthorized');
  t.is(check(reg, daily.token, 'download', 'gren-lang'), 'unauthorized');
  reg.clock.advance(10 * 365 * 86_400_000);
  await expectJson(await call(reg.url, 'GET', '/session', { token: forever.token }), 200);
  // Expired tokens stay listed, with their expiry, until revoked (robin's session ended meanwhile).
  const again = await loggedIn(reg, 'robin@example.com');
  t.is((await expectJson<unknown[]>(await call(reg.url, 'GET', '/tokens', { token: again }), 200)).length, 2);
});

test('lastUsed records when a token was last used, to the minute', async (t) => {
  const reg = await start(t);
  const robin = await loggedIn(reg, 'robin@example.com');
  await createIdentity(reg, robin, 'gren-lang');
  const { token } = await createToken(reg, robin, { identity: 'gren-lang', role: 'download' });
  const lastUsed = async () => (await expectJson<Array<{ lastUsed: string | null }>>(await call(reg.url, 'GET', '/tokens', { token: robin }), 200))[0]!.lastUsed;
  t.is(await lastUsed(), null);

  reg.clock.advance(3_600_000);
  const firstUse = reg.clock.now().toISOString();
  await expectJson(await call(reg.url, 'GET', '/session', { token }), 200);
  t.is(await lastUsed(), firstUse);
  reg.clock.advance(30_000);
  t.is(check(reg, token, 'download', 'gren-lang'), null);
  t.is(await lastUsed(), firstUse, 'within the minute');
  reg.clock.advance(3 * 86_400_000);
  t.is(check(reg, token, 'download', 'gren-lang'), null);
  t.is(await lastUsed(), reg.clock.now().toISOString());
});

test('POST /tokens refuses bad input with 400 invalid_request', async (t) => {
  const reg = await start(t);
  const robin = await loggedIn(reg, 'robin@example.com');
  await createIdentity(reg, robin, 'gren-lang');
  const good = { name: 'ci', identity: 'gren-lang', role: 'publish' };
  const bad: Array<Record<string, unknown>> = [
    { ...good, name: undefined },
    { ...good, name: '' },
    { ...good, name: '   ' },
    { ...good, name: 'x'.repeat(101) },
    { ...good, name: 'bad\nname' },
    { ...good, name: 7 },
    { ...good, identity: undefined },
    { ...good, identity: 42 },
    { ...good, role: 'admin' },
    { ...good, role: 'owner' },
    { ...good, role: undefined },
    { ...good, expiresInDays: 0 },
    { ...good, expiresInDays: -5 },
    { ...good, expiresInDays: 1.5 },
    { ...good, expiresInDays: '90' },
    { ...good, expiresInDays: 3651 },
  ];
  for (const body of bad) {
    const { message } = await expectError(await call(reg.url, 'POST', '/tokens', { token: robin, body }), 400, 'invalid_request');
    t.regex(message, /name|identity|role|expiresInDays/, JSON.stringify(body));
  }
  t.deepEqual(await expectJson(await call(reg.url, 'GET', '/tokens', { token: robin }), 200), []);
});

test('POST /tokens: 401 without a session, 404 for an unknown identity, 403 above the creator’s role', async (t) => {
  const reg = await start(t);
  const robin = await loggedIn(reg, 'robin@example.com');
  const kim = await loggedIn(reg, 'kim@example.com');
  await createIdentity(reg, robin, 'gren-lang');
  const body = { name: 'ci', identity: 'gren-lang', role: 'download' };
  await expectError(await call(reg.url, 'POST', '/tokens', { body }), 401, 'unauthorized');
  await expectError(await call(reg.url, 'POST', '/tokens', { token: robin, body: { ...body, identity: 'nobody' } }), 404, 'not_found');
  await expectError(await call(reg.url, 'POST', '/tokens', { token: kim, body }), 403, 'forbidden');
  await addMember(reg, robin, 'gren-lang', 'kim@example.com', 'download');
  await expectError(await call(reg.url, 'POST', '/tokens', { token: kim, body: { ...body, role: 'publish' } }), 403, 'forbidden');
  const { token } = await createToken(reg, kim, { identity: 'GREN-LANG', role: 'download' });
  t.is(check(reg, token, 'download', 'gren-lang'), null);
});

test('a token acts only in its identity, with at most its role', async (t) => {
  const reg = await start(t);
  const robin = await loggedIn(reg, 'robin@example.com');
  await createIdentity(reg, robin, 'gren-lang');
  await createIdentity(reg, robin, 'other');
  const publish = await createToken(reg, robin, { identity: 'gren-lang', role: 'publish' });
  const download = await createToken(reg, robin, { identity: 'gren-lang', role: 'download' });

  t.is(check(reg, publish.token, 'publish', 'gren-lang'), null);
  t.is(check(reg, publish.token, 'publish', 'Gren-Lang'), null);
  t.is(check(reg, publish.token, 'admin', 'gren-lang'), 'forbidden', 'tokens never carry admin');
  t.is(check(reg, publish.token, 'download', 'other'), 'forbidden', 'robin is admin of other, the token is not');
  t.is(check(reg, publish.token, 'download', 'nobody'), 'not_found');
  t.is(check(reg, download.token, 'download', 'gren-lang'), null);
  t.is(check(reg, download.token, 'publish', 'gren-lang'), 'forbidden');

  await expectError(await call(reg.url, 'GET', '/publishing-identity/other', { token: publish.token }), 403, 'forbidden');
  const member = '/publishing-identity/gren-lang/members/kim%40example.com';
  await expectError(await call(reg.url, 'PUT', member, { token: publish.token, body: { role: 'download' } }), 403, 'forbidden');
  t.deepEqual((await expectJson(await call(reg.url, 'GET', '/session', { token: download.token }), 200)).identities, [{ name: 'gren-lang', role: 'download' }]);
});

test('a token never reads a member list, whatever its role and its creator’s', async (t) => {
  const reg = await start(t);
  const robin = await loggedIn(reg, 'robin@example.com');
  await createIdentity(reg, robin, 'gren-lang');
  await addMember(reg, robin, 'gren-lang', 'kim@example.com', 'download');
  for (const role of ['download', 'publish'] as const) {
    const { token } = await createToken(reg, robin, { identity: 'gren-lang', role });
    const { message } = await expectError(await call(reg.url, 'GET', '/publishing-identity/gren-lang', { token }), 403, 'forbidden');
    t.regex(message, /session/);
    await expectError(await call(reg.url, 'GET', '/publishing-identity/nobody', { token }), 403, 'forbidden');
  }
  // The creator's session reads it, as every member's does.
  const { members } = await expectJson(await call(reg.url, 'GET', '/publishing-identity/gren-lang', { token: robin }), 200);
  t.deepEqual(members.map((m: { email: string }) => m.email), ['kim@example.com', 'robin@example.com']);
});

test('a demoted creator’s tokens weaken with them, at once; removed, they stop working', async (t) => {
  const reg = await start(t);
  const robin = await loggedIn(reg, 'robin@example.com');
  const kim = await loggedIn(reg, 'kim@example.com');
  await createIdentity(reg, robin, 'gren-lang');
  await addMember(reg, robin, 'gren-lang', 'kim@example.com', 'admin');
  const { token } = await createToken(reg, kim, { identity: 'gren-lang', role: 'publish' });
  t.is(check(reg, token, 'publish', 'gren-lang'), null);

  await addMember(reg, robin, 'gren-lang', 'kim@example.com', 'download');
  t.is(check(reg, token, 'publish', 'gren-lang'), 'forbidden');
  t.is(check(reg, token, 'download', 'gren-lang'), null);
  t.deepEqual((await expectJson(await call(reg.url, 'GET', '/session', { token }), 200)).identities, [{ name: 'gren-lang', role: 'download' }]);

  await expectJson(await call(reg.url, 'DELETE', '/publishing-identity/gren-lang/members/kim@example.com', { token: robin }), 200);
  t.is(check(reg, token, 'download', 'gren-lang'), 'forbidden');
  t.deepEqual((await expectJson(await call(reg.url, 'GET', '/session', { token }), 200)).identities, []);

  // Restored, the token is back to its own role, never above it.
  await addMember(reg, robin, 'gren-lang', 'kim@example.com', 'admin');
  t.is(check(reg, token, 'publish', 'gren-lang'), null);
  t.is(check(reg, token, 'admin', 'gren-lang'), 'forbidden');
});

test('tokens cannot manage tokens, create identities or manage members', async (t) => {
  const reg = await start(t);
  const robin = await loggedIn(reg, 'robin@example.com');
  await createIdentity(reg, robin, 'gren-lang');
  const mine = await createToken(reg, robin, { identity: 'gren-lang', role: 'publish' });
  const body = { name: 'more', identity: 'gren-lang', role: 'download' };
  await expectError(await call(reg.url, 'POST', '/tokens', { token: mine.token, body }), 403, 'forbidden');
  await expectError(await call(reg.url, 'GET', '/tokens', { token: mine.token }), 403, 'forbidden');
  await expectError(await call(reg.url, 'DELETE', `/tokens/${mine.id}`, { token: mine.token }), 403, 'forbidden');
  await expectError(await call(reg.url, 'POST', '/publishing-identity', { token: mine.token, body: { name: 'mine' } }), 403, 'forbidden');
  await expectError(await call(reg.url, 'DELETE', '/publishing-identity/gren-lang/members/robin@example.com', { token: mine.token }), 403, 'forbidden');
  t.is(check(reg, mine.token, 'publish', 'gren-lang'), null);
});

test('a token revokes itself with DELETE /session; nobody revokes another user’s token', async (t) => {
  const reg = await start(t);
  const robin = await loggedIn(reg, 'robin@example.com');
  const kim = await loggedIn(reg, 'kim@example.com');
  await createIdentity(reg, robin, 'gren-lang');
  const first = await createToken(reg, robin, { identity: 'gren-lang', role: 'download' });
  const second = await createToken(reg, robin, { identity: 'gren-lang', role: 'download' });
  await expectError(await call(reg.url, 'DELETE', `/tokens/${first.id}`, { token: kim }), 404, 'not_found');
  await expectError(await call(reg.url, 'DELETE', '/tokens/no-such-id', { token: robin }), 404, 'not_found');
  await expectError(await call(reg.url, 'DELETE', '/tokens', { token: robin }), 405, 'method_not_allowed');
  await expectJson(await call(reg.url, 'DELETE', '/session', { token: first.token }), 200);
  await expectError(await call(reg.url, 'GET', '/session', { token: first.token }), 401, 'unauthorized');
  await expectJson(await call(reg.url, 'GET', '/session', { token: second.token }), 200);
  await expectJson(await call(reg.url, 'GET', '/session', { token: robin }), 200);
  t.deepEqual((await expectJson<Array<{ id: string }>>(await call(reg.url, 'GET', '/tokens', { token: robin }), 200)).map((x) => x.id), [second.id]);
});
