import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import {
  call,
  expectError,
  expectJson,
  fetchSession,
  loggedIn,
  mailRegistryFor,
  movableClock,
  readLoginMail,
  requestLogin,
  startRegistryWithMail,
} from './helpers/accounts.ts';
import { startRegistry } from './helpers/registry.ts';
import { codeAlphabet } from '../gateway/accounts/secrets.ts';

test('a login mail carries the code and the link as docs/protocol.md words them, and the code gives a session', async (t) => {
  const reg = await mailRegistryFor(t);
  const fetchSessionToken = await requestLogin(reg, '  Robin@Example.COM ');
  const mail = await reg.smtp.waitForMail('robin@example.com');
  t.deepEqual(mail.to, ['robin@example.com']);
  t.regex(mail.from, /registry@localhost/);
  const { code, link } = readLoginMail(mail);
  t.is(code.length, 8);
  for (const c of code) t.true(codeAlphabet.includes(c), `${c} is in the alphabet`);
  t.regex(code, /^[^0O1IL]{8}$/);
  t.regex(link, /^http:\/\/127\.0\.0\.1:\d+\/session\/confirm\?secret=[A-Za-z0-9_-]{43}$/);
  t.true(link.startsWith(`${reg.url}/session/confirm?secret=`));

  const { sessionToken } = await expectJson(await fetchSession(reg, { fetchSessionToken, emailConfirmationCode: code }), 200);
  t.is(typeof sessionToken, 'string');
  t.deepEqual(await expectJson(await call(reg.url, 'GET', '/session', { token: sessionToken }), 200), { email: 'robin@example.com', identities: [] });
});

test('codes are drawn from the 31-character alphabet, about evenly', async (t) => {
  const { newCode } = await import('../gateway/accounts/secrets.ts');
  const counts = new Map<string, number>();
  for (let i = 0; i < 4000; i++) for (const c of newCode()) counts.set(c, (counts.get(c) ?? 0) + 1);
  t.is(codeAlphabet.length, 31);
  t.deepEqual([...counts.keys()].sort().join(''), [...codeAlphabet].sort().join(''));
  // 32,000 draws over 31 characters: about 1,032 each; a fair draw stays well within ±25 %.
  for (const [c, n] of counts) t.true(n > 774 && n < 1290, `${c} drawn ${n} times`);
});

test('the code is matched ignoring case, spaces and dashes', async (t) => {
  const reg = await mailRegistryFor(t);
  const fetchSessionToken = await requestLogin(reg, 'kim@example.com');
  const { code } = readLoginMail(await reg.smtp.waitForMail('kim@example.com'));
  const typed = ` ${code.slice(0, 4).toLowerCase()}- ${code.slice(4)} `;
  const { sessionToken } = await expectJson(await fetchSession(reg, { fetchSessionToken, emailConfirmationCode: typed }), 200);
  t.truthy(sessionToken);
});

test('the answer is the same for an address seen before and a new one', async (t) => {
  const reg = await mailRegistryFor(t);
  await loggedIn(reg, 'known@example.com');
  const known = await call(reg.url, 'POST', '/session', { body: { email: 'known@example.com' } });
  const unknown = await call(reg.url, 'POST', '/session', { body: { email: 'new@example.com' } });
  t.is(known.status, 200);
  t.is(unknown.status, 200);
  const [a, b] = [(await known.json()) as { fetchSessionToken: string }, (await unknown.json()) as { fetchSessionToken: string }];
  t.deepEqual(Object.keys(a), ['fetchSessionToken']);
  t.deepEqual(Object.keys(b), ['fetchSessionToken']);
  t.is(a.fetchSessionToken.length, b.fetchSessionToken.length);
  t.deepEqual(known.headers.get('content-type'), unknown.headers.get('content-type'));
  await reg.smtp.waitForMail('known@example.com');
  await reg.smtp.waitForMail('new@example.com');
});

test('POST /session refuses a malformed email or body with 400 invalid_request', async (t) => {
  const reg = await mailRegistryFor(t);
  for (const email of ['', 'robin', 'robin@', '@example.com', 'robin@example', 'a b@example.com', 'robin@exa mple.com', 'x\n@example.com', 'robin@@example.com', `${'a'.repeat(65)}@example.com`, 42, null]) {
    await expectError(await call(reg.url, 'POST', '/session', { body: { email } }), 400, 'invalid_request');
  }
  await expectError(await call(reg.url, 'POST', '/session', { body: {} }), 400, 'invalid_request');
  await expectError(await call(reg.url, 'POST', '/session', { body: ['robin@example.com'] }), 400, 'invalid_request');
  await expectError(
    await fetch(`${reg.url}/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"email": ' }),
    400,
    'invalid_request',
  );
  await expectError(
    await fetch(`${reg.url}/session`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'robin@example.com' }),
    415,
    'unsupported_media_type',
  );
  t.is(reg.smtp.mails.length, 0);
});

test('POST /session/fetch refuses a missing fetch token or a code that is not a string', async (t) => {
  const reg = await mailRegistryFor(t);
  await expectError(await fetchSession(reg, {}), 400, 'invalid_request');
  await expectError(await fetchSession(reg, { fetchSessionToken: 42 }), 400, 'invalid_request');
  const fetchSessionToken = await requestLogin(reg, 'robin@example.com');
  await expectError(await fetchSession(reg, { fetchSessionToken, emailConfirmationCode: 12345678 }), 400, 'invalid_request');
  await expectError(await fetchSession(reg, { fetchSessionToken, emailConfirmationCode: ' - ' }), 400, 'invalid_request');
  // None of these used up a try: the right code still works.
  const { code } = readLoginMail(await reg.smtp.waitForMail('robin@example.com'));
  await expectJson(await fetchSession(reg, { fetchSessionToken, emailConfirmationCode: code }), 200);
  t.pass();
});

test('an unknown fetch token is 400 invalid_code', async (t) => {
  const reg = await mailRegistryFor(t);
  const { message } = await expectError(await fetchSession(reg, { fetchSessionToken: 'grf_nothing', emailConfirmationCode: 'ABCDEFGH' }), 400, 'invalid_code');
  t.regex(message, /unknown/);
  await expectError(await fetchSession(reg, { fetchSessionToken: 'grf_nothing' }), 400, 'invalid_code');
});

test('a code works once: a fetch token gives out at most one session token', async (t) => {
  const reg = await mailRegistryFor(t);
  const fetchSessionToken = await requestLogin(reg, 'robin@example.com');
  const { code } = readLoginMail(await reg.smtp.waitForMail('robin@example.com'));
  const answers = await Promise.all([1, 2, 3].map(() => fetchSession(reg, { fetchSessionToken, emailConfirmationCode: code })));
  t.deepEqual(answers.map((r) => r.status).sort(), [200, 400, 400]);
  for (const res of answers) if (res.status === 400) await expectError(res, 400, 'invalid_code');
  const { message } = await expectError(await fetchSession(reg, { fetchSessionToken, emailConfirmationCode: code }), 400, 'invalid_code');
  t.regex(message, /completed already/);
  await expectError(await fetchSession(reg, { fetchSessionToken }), 400, 'invalid_code');
});

test('after 5 wrong codes the fetch token is dead, even for the right code', async (t) => {
  const reg = await mailRegistryFor(t);
  const fetchSessionToken = await requestLogin(reg, 'robin@example.com');
  const { code } = readLoginMail(await reg.smtp.waitForMail('robin@example.com'));
  const wrong = code === 'AAAAAAAA' ? 'BBBBBBBB' : 'AAAAAAAA';
  for (const left of [4, 3, 2, 1]) {
    const { message } = await expectError(await fetchSession(reg, { fetchSessionToken, emailConfirmationCode: wrong }), 400, 'invalid_code');
    t.true(message.includes(`${left} ${left === 1 ? 'try' : 'tries'} left`), message);
  }
  const fifth = await expectError(await fetchSession(reg, { fetchSessionToken, emailConfirmationCode: 'short' }), 400, 'invalid_code');
  t.regex(fifth.message, /Too many wrong/);
  const after = await expectError(await fetchSession(reg, { fetchSessionToken, emailConfirmationCode: code }), 400, 'invalid_code');
  t.regex(after.message, /Too many wrong/);
  await expectError(await fetchSession(reg, { fetchSessionToken }), 400, 'invalid_code');
  // The link of a dead login does not work either.
  const { link } = readLoginMail(reg.smtp.mails[0]!);
  const page = await fetch(link);
  t.is(page.status, 400);
  t.regex(await page.text(), /too many wrong codes/);
});

test('a code expires after 15 minutes', async (t) => {
  const clock = movableClock();
  const reg = await mailRegistryFor(t, { clock });
  const fetchSessionToken = await requestLogin(reg, 'robin@example.com');
  const { code, link } = readLoginMail(await reg.smtp.waitForMail('robin@example.com'));
  clock.advance(15 * 60_000);
  const { message } = await expectError(await fetchSession(reg, { fetchSessionToken, emailConfirmationCode: code }), 400, 'invalid_code');
  t.regex(message, /expired/);
  const page = await fetch(link);
  t.is(page.status, 400);
  t.regex(await page.text(), /expired/);

  // Just inside the 15 minutes, a fresh code works.
  const second = await requestLogin(reg, 'robin@example.com');
  const fresh = readLoginMail(await reg.smtp.waitForMail('robin@example.com'));
  clock.advance(15 * 60_000 - 1000);
  await expectJson(await fetchSession(reg, { fetchSessionToken: second, emailConfirmationCode: fresh.code }), 200);
});

test('the code lifetime can be tuned', async (t) => {
  const clock = movableClock();
  const reg = await mailRegistryFor(t, { clock, accounts: { codeLifetimeMs: 60_000 } });
  const fetchSessionToken = await requestLogin(reg, 'robin@example.com');
  const mail = await reg.smtp.waitForMail('robin@example.com');
  t.regex(mail.text, /for 1 minutes|for 1 minute/);
  clock.advance(61_000);
  await expectError(await fetchSession(reg, { fetchSessionToken, emailConfirmationCode: readLoginMail(mail).code }), 400, 'invalid_code');
});

test('closing the registry releases a fetch held for the link at once', async (t) => {
  const reg = await startRegistryWithMail();
  const fetchSessionToken = await requestLogin(reg, 'robin@example.com');
  const held = fetchSession(reg, { fetchSessionToken });
  await new Promise((resolve) => setTimeout(resolve, 200));
  const started = performance.now();
  await reg.close();
  const res = await held;
  t.is(res.status, 202);
  t.true(performance.now() - started < 2000, 'closed without waiting out the 30 s, nor a kept-alive connection');
});

test('GET /session lists identities with roles; DELETE /session logs out that token only', async (t) => {
  const reg = await mailRegistryFor(t);
  const first = await loggedIn(reg, 'robin@example.com');
  const second = await loggedIn(reg, 'robin@example.com');
  await expectJson(await call(reg.url, 'POST', '/publishing-identity', { token: first, body: { name: 'gren-lang' } }), 201);
  t.deepEqual(await expectJson(await call(reg.url, 'GET', '/session', { token: second }), 200), {
    email: 'robin@example.com',
    identities: [{ name: 'gren-lang', role: 'admin' }],
  });

  t.deepEqual(await expectJson(await call(reg.url, 'DELETE', '/session', { token: first }), 200), {});
  await expectError(await call(reg.url, 'GET', '/session', { token: first }), 401, 'unauthorized');
  await expectError(await call(reg.url, 'DELETE', '/session', { token: first }), 401, 'unauthorized');
  await expectJson(await call(reg.url, 'GET', '/session', { token: second }), 200);
});

test('GET and DELETE /session without a token, or with a bad one, are 401 unauthorized', async (t) => {
  const reg = await mailRegistryFor(t);
  await expectError(await call(reg.url, 'GET', '/session'), 401, 'unauthorized');
  await expectError(await call(reg.url, 'DELETE', '/session'), 401, 'unauthorized');
  await expectError(await call(reg.url, 'GET', '/session', { token: 'grs_forged' }), 401, 'unauthorized');
  await expectError(await call(reg.url, 'GET', '/session', { token: 'something' }), 401, 'unauthorized');
  await expectError(await call(reg.url, 'GET', '/session', { headers: { authorization: 'Basic cm9iaW46cGFzcw==' } }), 401, 'unauthorized');
  await expectError(await call(reg.url, 'GET', '/session', { headers: { authorization: 'Bearer' } }), 401, 'unauthorized');
  await expectError(await call(reg.url, 'PUT', '/session'), 405, 'method_not_allowed');
  t.pass();
});

test('a mail that cannot be sent is 503 unavailable, logged, and the request can be retried', async (t) => {
  const reg = await mailRegistryFor(t);
  reg.smtp.refuseNext(1);
  const { message } = await expectError(await call(reg.url, 'POST', '/session', { body: { email: 'robin@example.com' } }), 503, 'unavailable');
  t.regex(message, /could not be sent/);
  t.true(reg.log.lines.some((l) => l.event === 'mail_failed' && l.level === 'error' && l.responseCode === 451));
  const token = await loggedIn(reg, 'robin@example.com');
  t.truthy(token);
});

test('a mail server that is down is 503 unavailable too', async (t) => {
  const reg = await startRegistryWithMail({ env: { SMTP_URL: 'smtp://127.0.0.1:1' } });
  t.teardown(() => reg.close());
  await expectError(await call(reg.url, 'POST', '/session', { body: { email: 'robin@example.com' } }), 503, 'unavailable');
  t.true(reg.log.lines.some((l) => l.event === 'mail_failed'));
});

test('without SMTP_URL the mail is written to the outbox and its code logged in one line', async (t) => {
  const reg = await startRegistry();
  t.teardown(() => reg.close());
  const { fetchSessionToken } = await expectJson(await call(reg.url, 'POST', '/session', { body: { email: 'Robin@Example.com' } }), 200);
  const outbox = path.join(reg.dataDir, 'outbox');
  const files = fs.readdirSync(outbox);
  t.is(files.length, 1);
  const raw = fs.readFileSync(path.join(outbox, files[0]!), 'utf8');
  t.regex(raw, /^To: robin@example\.com$/m);
  const code = /^Your confirmation code is: (\S+)$/m.exec(raw)?.[1];
  t.truthy(code);
  const lines = reg.log.lines.filter((l) => JSON.stringify(l).includes(code!));
  t.is(lines.length, 1);
  t.like(lines[0], { event: 'login_mail_written', to: 'robin@example.com', code });
  await expectJson(await call(reg.url, 'POST', '/session/fetch', { body: { fetchSessionToken, emailConfirmationCode: code } }), 200);
});
