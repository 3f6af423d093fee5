import test from 'ava';
import type { ExecutionContext } from 'ava';
import { addMember, call, createIdentity, expectError, expectJson, fetchClient, loggedIn, startRegistryWithMail, type MailRegistry } from './helpers/accounts.ts';

async function start(t: ExecutionContext): Promise<MailRegistry> {
  const reg = await startRegistryWithMail();
  t.teardown(() => reg.close());
  return reg;
}

const members = (name: string, email?: string) =>
  `/publishing-identity/${encodeURIComponent(name)}${email === undefined ? '' : `/members/${encodeURIComponent(email)}`}`;

test('the creator of an identity becomes its first admin; the name keeps its case', async (t) => {
  const reg = await start(t);
  const robin = await loggedIn(reg, 'robin@example.com');
  t.deepEqual(await expectJson(await call(reg.url, 'POST', '/publishing-identity', { token: robin, body: { name: 'Gren-Lang' } }), 201), { name: 'Gren-Lang' });
  t.deepEqual(await expectJson(await call(reg.url, 'GET', members('gren-lang'), { token: robin }), 200), {
    name: 'Gren-Lang',
    members: [{ email: 'robin@example.com', role: 'admin' }],
  });
});

test('identity names follow Gren’s author rule: 400 invalid_name otherwise', async (t) => {
  const reg = await start(t);
  const robin = await loggedIn(reg, 'robin@example.com');
  for (const name of ['', '-gren', 'gren-', 'gren--lang', 'gren_lang', 'gren lang', 'gren/lang', 'grën', 'a'.repeat(40), 42, null, undefined]) {
    await expectError(await call(reg.url, 'POST', '/publishing-identity', { token: robin, body: { name } }), 400, 'invalid_name');
  }
  for (const name of ['a', '7', 'a-b-c', 'A1-b2', 'x'.repeat(39)]) {
    await expectJson(await call(reg.url, 'POST', '/publishing-identity', { token: robin, body: { name } }), 201);
  }
  t.is((await expectJson(await call(reg.url, 'GET', '/session', { token: robin }), 200)).identities.length, 5);
});

test('names are unique case-insensitively: 409 identity_exists', async (t) => {
  const reg = await start(t);
  const robin = await loggedIn(reg, 'robin@example.com');
  const kim = await loggedIn(reg, 'kim@example.com');
  await createIdentity(reg, robin, 'gren-lang');
  await expectError(await call(reg.url, 'POST', '/publishing-identity', { token: kim, body: { name: 'GREN-lang' } }), 409, 'identity_exists');
  await expectError(await call(reg.url, 'POST', '/publishing-identity', { token: robin, body: { name: 'gren-lang' } }), 409, 'identity_exists');
  const racing = await Promise.all(['Racer', 'racer', 'RACER'].map((name) => call(reg.url, 'POST', '/publishing-identity', { token: kim, body: { name } })));
  t.deepEqual(racing.map((r) => r.status).sort(), [201, 409, 409]);
  t.deepEqual((await expectJson(await call(reg.url, 'GET', '/session', { token: kim }), 200)).identities.length, 1);
});

test('creating an identity needs a session: 401 without one; the legacy `session` body field is accepted', async (t) => {
  const reg = await start(t);
  const robin = await loggedIn(reg, 'robin@example.com');
  await expectError(await call(reg.url, 'POST', '/publishing-identity', { body: { name: 'gren-lang' } }), 401, 'unauthorized');
  await expectError(await call(reg.url, 'POST', '/publishing-identity', { body: { name: 'gren-lang', session: 'grs_forged' } }), 401, 'unauthorized');
  await expectError(await call(reg.url, 'POST', '/publishing-identity', { token: 'grs_forged', body: { name: 'gren-lang', session: robin } }), 401, 'unauthorized');
  await expectJson(await call(reg.url, 'POST', '/publishing-identity', { body: { name: 'gren-lang', session: robin } }), 201);
  t.deepEqual((await expectJson(await call(reg.url, 'GET', members('gren-lang'), { token: robin }), 200)).members, [{ email: 'robin@example.com', role: 'admin' }]);
});

test('GET an identity: for members only (401, 403), 404 when it does not exist', async (t) => {
  const reg = await start(t);
  const robin = await loggedIn(reg, 'robin@example.com');
  const kim = await loggedIn(reg, 'kim@example.com');
  await createIdentity(reg, robin, 'gren-lang');
  await expectError(await call(reg.url, 'GET', members('gren-lang')), 401, 'unauthorized');
  await expectError(await call(reg.url, 'GET', members('gren-lang'), { token: kim }), 403, 'forbidden');
  await expectError(await call(reg.url, 'GET', members('nobody'), { token: kim }), 404, 'not_found');
  await addMember(reg, robin, 'gren-lang', 'kim@example.com', 'download');
  t.deepEqual(await expectJson(await call(reg.url, 'GET', members('GREN-LANG'), { token: kim }), 200), {
    name: 'gren-lang',
    members: [
      { email: 'kim@example.com', role: 'download' },
      { email: 'robin@example.com', role: 'admin' },
    ],
  });
});

test('PUT a member: admins only; adds or changes a role; bad input is 400', async (t) => {
  const reg = await start(t);
  const robin = await loggedIn(reg, 'robin@example.com');
  const kim = await loggedIn(reg, 'kim@example.com');
  await createIdentity(reg, robin, 'gren-lang');
  const put = (token: string | null, email: string, body: unknown, name = 'gren-lang') => call(reg.url, 'PUT', members(name, email), { token, body });

  await expectError(await put(null, 'kim@example.com', { role: 'publish' }), 401, 'unauthorized');
  await expectError(await put(kim, 'kim@example.com', { role: 'admin' }), 403, 'forbidden');
  await expectError(await put(robin, 'kim@example.com', { role: 'publish' }, 'nobody'), 404, 'not_found');
  await expectError(await put(robin, 'not-an-email', { role: 'publish' }), 400, 'invalid_request');
  for (const body of [{}, { role: 'owner' }, { role: 'Admin' }, { role: 3 }]) {
    await expectError(await put(robin, 'kim@example.com', body), 400, 'invalid_request');
  }

  t.deepEqual(await expectJson(await put(robin, ' Kim@Example.com', { role: 'publish' }), 200), { email: 'kim@example.com', role: 'publish' });
  await expectError(await put(kim, 'lee@example.com', { role: 'download' }), 403, 'forbidden');
  await expectJson(await put(robin, 'kim@example.com', { role: 'admin' }), 200);
  await expectJson(await put(kim, 'lee@example.com', { role: 'download' }), 200);
  t.deepEqual((await expectJson(await call(reg.url, 'GET', members('gren-lang'), { token: kim }), 200)).members, [
    { email: 'kim@example.com', role: 'admin' },
    { email: 'lee@example.com', role: 'download' },
    { email: 'robin@example.com', role: 'admin' },
  ]);
});

test('an address added before it ever logged in gets its access when it does', async (t) => {
  const reg = await start(t);
  const robin = await loggedIn(reg, 'robin@example.com');
  await createIdentity(reg, robin, 'gren-lang');
  await addMember(reg, robin, 'gren-lang', 'New.Person@Example.com', 'publish');
  const newcomer = await loggedIn(reg, 'new.person@example.com');
  t.deepEqual(await expectJson(await call(reg.url, 'GET', '/session', { token: newcomer }), 200), {
    email: 'new.person@example.com',
    identities: [{ name: 'gren-lang', role: 'publish' }],
  });
  await expectJson(await call(reg.url, 'GET', members('gren-lang'), { token: newcomer }), 200);
  const { permissions, accounts } = reg.registry.deps;
  t.notThrows(() => permissions.publish(accounts.authenticate(newcomer, fetchClient), 'gren-lang'));
});

test('the last admin can be neither demoted nor removed: 409 last_admin', async (t) => {
  const reg = await start(t);
  const robin = await loggedIn(reg, 'robin@example.com');
  const kim = await loggedIn(reg, 'kim@example.com');
  await createIdentity(reg, robin, 'gren-lang');
  await expectError(await call(reg.url, 'PUT', members('gren-lang', 'robin@example.com'), { token: robin, body: { role: 'publish' } }), 409, 'last_admin');
  await expectError(await call(reg.url, 'DELETE', members('gren-lang', 'robin@example.com'), { token: robin }), 409, 'last_admin');
  await expectJson(await call(reg.url, 'PUT', members('gren-lang', 'robin@example.com'), { token: robin, body: { role: 'admin' } }), 200);

  await addMember(reg, robin, 'gren-lang', 'kim@example.com', 'admin');
  await expectJson(await call(reg.url, 'PUT', members('gren-lang', 'robin@example.com'), { token: robin, body: { role: 'download' } }), 200);
  await expectError(await call(reg.url, 'DELETE', members('gren-lang', 'kim@example.com'), { token: kim }), 409, 'last_admin');
  await expectError(await call(reg.url, 'PUT', members('gren-lang', 'kim@example.com'), { token: kim, body: { role: 'publish' } }), 409, 'last_admin');
  t.deepEqual((await expectJson(await call(reg.url, 'GET', members('gren-lang'), { token: kim }), 200)).members, [
    { email: 'kim@example.com', role: 'admin' },
    { email: 'robin@example.com', role: 'download' },
  ]);
});

test('DELETE a member: admins remove anyone, members remove themselves, others are refused', async (t) => {
  const reg = await start(t);
  const robin = await loggedIn(reg, 'robin@example.com');
  const kim = await loggedIn(reg, 'kim@example.com');
  const lee = await loggedIn(reg, 'lee@example.com');
  await createIdentity(reg, robin, 'gren-lang');
  await addMember(reg, robin, 'gren-lang', 'kim@example.com', 'publish');
  await addMember(reg, robin, 'gren-lang', 'lee@example.com', 'download');
  const remove = (token: string | null, email: string, name = 'gren-lang') => call(reg.url, 'DELETE', members(name, email), { token });

  await expectError(await remove(null, 'lee@example.com'), 401, 'unauthorized');
  await expectError(await remove(kim, 'lee@example.com'), 403, 'forbidden');
  await expectError(await remove(robin, 'lee@example.com', 'nobody'), 404, 'not_found');
  await expectError(await remove(robin, 'stranger@example.com'), 404, 'not_found');
  await expectError(await remove(robin, 'not-an-email'), 400, 'invalid_request');

  t.deepEqual(await expectJson(await remove(kim, 'KIM@example.com'), 200), {});
  await expectError(await remove(kim, 'kim@example.com'), 404, 'not_found');
  await expectError(await call(reg.url, 'GET', members('gren-lang'), { token: kim }), 403, 'forbidden');
  await expectJson(await remove(robin, 'lee@example.com'), 200);
  t.deepEqual((await expectJson(await call(reg.url, 'GET', '/session', { token: lee }), 200)).identities, []);
  t.deepEqual((await expectJson(await call(reg.url, 'GET', members('gren-lang'), { token: robin }), 200)).members, [{ email: 'robin@example.com', role: 'admin' }]);
});

test('unknown methods on identity paths are 405', async (t) => {
  const reg = await start(t);
  const robin = await loggedIn(reg, 'robin@example.com');
  await expectError(await call(reg.url, 'GET', '/publishing-identity', { token: robin }), 405, 'method_not_allowed');
  await expectError(await call(reg.url, 'DELETE', members('gren-lang'), { token: robin }), 405, 'method_not_allowed');
  t.pass();
});
