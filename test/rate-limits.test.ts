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
