import test from 'ava';
import { call, expectError, expectJson, movableClock, readLoginMail, requestLogin, startRegistryWithMail, type MailRegistry } from './helpers/accounts.ts';
import { createRateLimiter } from '../gateway/rate-limit.ts';
import { accountsDefaults, type AccountsOptions } from '../gateway/accounts/accounts.ts';

async function start(t: import('ava').ExecutionContext, accounts: Partial<AccountsOptions>, clock = movableClock()): Promise<MailRegistry & { clock: typeof clock }> {
  const reg = await startRegistryWithMail({ overrides: { clock, accounts } });
  t.teardown(() => reg.close());
  return Object.assign(reg, { clock });
}

const askLogin = (reg: MailRegistry, email: string) => call(reg.url, 'POST', '/session', { body: { email } });

test('a token bucket allows its burst, then one per interval, and says how long to wait', (t) => {
  const clock = movableClock();
  const limiter = createRateLimiter({ limit: { burst: 3, everyMs: 10_000 }, clock });
  t.deepEqual([1, 2, 3].map(() => limiter.take('a')), [0, 0, 0]);
  t.is(limiter.take('a'), 10);
  t.is(limiter.take('b'), 0, 'keys are independent');
  clock.advance(4_000);
  t.is(limiter.take('a'), 6);
  clock.advance(6_000);
  t.is(limiter.take('a'), 0);
  t.is(limiter.take('a'), 10);
  limiter.giveBack('a');
  t.is(limiter.take('a'), 0, 'a given-back action can be taken again');
  clock.advance(3_600_000);
  t.deepEqual([1, 2, 3, 4].map(() => limiter.take('a')), [0, 0, 0, 10], 'refills to the burst, never beyond');
});

test('a token bucket forgets full buckets once it holds many keys', (t) => {
  const clock = movableClock();
  const limiter = createRateLimiter({ limit: { burst: 2, everyMs: 1000 }, clock });
  for (let i = 0; i < 10_001; i++) limiter.take(`client-${i}`);
  t.is(limiter.take('client-0'), 0, 'the second of a burst of two');
  t.is(limiter.take('client-0'), 1);
  clock.advance(5000);
  limiter.take('someone-new'); // sweeps the buckets that have refilled
  t.is(limiter.take('client-0'), 0);
});

test('the defaults are a real registry’s: 5 mails to one address, then one every 10 minutes', async (t) => {
  const reg = await start(t, {});
  t.deepEqual(accountsDefaults.loginMailPerAddress, { burst: 5, everyMs: 600_000 });
  for (let i = 0; i < 5; i++) await expectJson(await askLogin(reg, 'robin@example.com'), 200);
  const refused = await askLogin(reg, 'ROBIN@example.com ');
  await expectError(refused.clone(), 429, 'rate_limited');
  t.is(refused.headers.get('retry-after'), '600');
  reg.clock.advance(600_000);
  await expectJson(await askLogin(reg, 'robin@example.com'), 200);
  t.is(reg.smtp.mails.length, 6);
});

test('login mail per address: 429 with Retry-After, other addresses unaffected, allowed again later', async (t) => {
  const reg = await start(t, { loginMailPerAddress: { burst: 2, everyMs: 60_000 } });
  await expectJson(await askLogin(reg, 'robin@example.com'), 200);
  await expectJson(await askLogin(reg, 'robin@example.com'), 200);
  const refused = await askLogin(reg, 'robin@example.com');
  t.is(refused.headers.get('retry-after'), '60');
  const { message } = await expectError(refused, 429, 'rate_limited');
  t.regex(message, /60 seconds/);
  t.is(reg.smtp.mails.length, 2, 'no mail for a refused request');

  await expectJson(await askLogin(reg, 'kim@example.com'), 200);
  reg.clock.advance(30_000);
  t.is((await askLogin(reg, 'robin@example.com')).headers.get('retry-after'), '30');
  reg.clock.advance(30_000);
  await expectJson(await askLogin(reg, 'robin@example.com'), 200);
});

test('login mail per client address: one client cannot mail many strangers', async (t) => {
  const reg = await start(t, { loginMailPerClient: { burst: 3, everyMs: 120_000 } });
  for (const who of ['a', 'b', 'c']) await expectJson(await askLogin(reg, `${who}@example.com`), 200);
  const refused = await askLogin(reg, 'd@example.com');
  t.is(refused.headers.get('retry-after'), '120');
  const { message } = await expectError(refused, 429, 'rate_limited');
  t.regex(message, /from this address/);
  reg.clock.advance(120_000);
  await expectJson(await askLogin(reg, 'd@example.com'), 200);
});

test('a refusal per address does not use up the client’s allowance', async (t) => {
  const reg = await start(t, { loginMailPerAddress: { burst: 1, everyMs: 60_000 }, loginMailPerClient: { burst: 2, everyMs: 60_000 } });
  await expectJson(await askLogin(reg, 'robin@example.com'), 200);
  for (let i = 0; i < 3; i++) await expectError(await askLogin(reg, 'robin@example.com'), 429, 'rate_limited');
  await expectJson(await askLogin(reg, 'kim@example.com'), 200);
  t.pass();
});

test('a mail that could not be sent does not count against the limits', async (t) => {
  const reg = await start(t, { loginMailPerAddress: { burst: 1, everyMs: 600_000 } });
  reg.smtp.refuseNext(1);
  await expectError(await askLogin(reg, 'robin@example.com'), 503, 'unavailable');
  const fetchSessionToken = await requestLogin(reg, 'robin@example.com');
  const { code } = readLoginMail(await reg.smtp.waitForMail('robin@example.com'));
  await expectJson(await call(reg.url, 'POST', '/session/fetch', { body: { fetchSessionToken, emailConfirmationCode: code } }), 200);
  t.pass();
});

test('fetch attempts per client address: 429 with Retry-After, before the code is looked at', async (t) => {
  const reg = await start(t, { fetchPerClient: { burst: 3, everyMs: 2_000 } });
  const fetchSessionToken = await requestLogin(reg, 'robin@example.com');
  const { code } = readLoginMail(await reg.smtp.waitForMail('robin@example.com'));
  const attempt = (emailConfirmationCode: string) => call(reg.url, 'POST', '/session/fetch', { body: { fetchSessionToken, emailConfirmationCode } });
  await expectError(await attempt('AAAAAAAA'), 400, 'invalid_code');
  await expectError(await attempt('BBBBBBBB'), 400, 'invalid_code');
  await expectError(await attempt('CCCCCCCC'), 400, 'invalid_code');
  const refused = await attempt(code);
  t.is(refused.headers.get('retry-after'), '2');
  await expectError(refused, 429, 'rate_limited');
  reg.clock.advance(2_000);
  // The refused attempt used none of the login's five tries: two are left, and the right code works.
  await expectJson(await attempt(code), 200);
});

test('the per-address limit counts mailboxes: +tags, case, and Gmail’s dots and second domain do not make new ones', async (t) => {
  const reg = await start(t, { loginMailPerAddress: { burst: 2, everyMs: 600_000 } });
  await expectJson(await askLogin(reg, 'carol+1@example.com'), 200);
  await expectJson(await askLogin(reg, 'carol+2@example.com'), 200);
  for (const email of ['carol+3@example.com', 'Carol@Example.com', 'carol+@example.com']) {
    await expectError(await askLogin(reg, email), 429, 'rate_limited');
  }
  // Dots matter everywhere but at Gmail.
  await expectJson(await askLogin(reg, 'c.arol@example.com'), 200);

  await expectJson(await askLogin(reg, 'dan.smith@gmail.com'), 200);
  await expectJson(await askLogin(reg, 'DanSmith+registry@googlemail.com'), 200);
  for (const email of ['d.a.n.s.m.i.t.h@gmail.com', 'dansmith@googlemail.com', 'dan.smith+x@gmail.com']) {
    await expectError(await askLogin(reg, email), 429, 'rate_limited');
  }
  t.deepEqual(reg.smtp.mails.map((mail) => mail.to[0]), ['carol+1@example.com', 'carol+2@example.com', 'c.arol@example.com', 'dan.smith@gmail.com', 'dansmith+registry@googlemail.com']);
});

test('per-client limits count an IPv6 client by its /64', async (t) => {
  const reg = await startRegistryWithMail({ env: { TRUST_PROXY: '1' }, overrides: { clock: movableClock(), accounts: { loginMailPerClient: { burst: 1, everyMs: 600_000 }, fetchPerClient: { burst: 1, everyMs: 600_000 } } } });
  t.teardown(() => reg.close());
  const from = (address: string, path: string, body: Record<string, unknown>) => call(reg.url, 'POST', path, { body, headers: { 'x-forwarded-for': address } });
  await expectJson(await from('2001:db8:1:2::1', '/session', { email: 'a@example.com' }), 200);
  await expectError(await from('2001:db8:1:2:ffff:ffff:ffff:fffe', '/session', { email: 'b@example.com' }), 429, 'rate_limited');
  await expectJson(await from('2001:db8:1:3::1', '/session', { email: 'c@example.com' }), 200);

  await expectError(await from('2001:db8:7:7::1', '/session/fetch', { fetchSessionToken: 'grf_x', emailConfirmationCode: 'AAAAAAAA' }), 400, 'invalid_code');
  await expectError(await from('2001:db8:7:7::2', '/session/fetch', { fetchSessionToken: 'grf_x', emailConfirmationCode: 'AAAAAAAA' }), 429, 'rate_limited');

  // An IPv4 client is counted by its address, whether it comes as IPv4 or IPv4-mapped IPv6.
  await expectJson(await from('203.0.113.7', '/session', { email: 'd@example.com' }), 200);
  await expectError(await from('::ffff:203.0.113.7', '/session', { email: 'e@example.com' }), 429, 'rate_limited');
  await expectJson(await from('203.0.113.8', '/session', { email: 'f@example.com' }), 200);
  t.is(reg.smtp.mails.length, 4);
});
