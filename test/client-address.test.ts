import test from 'ava';
import { clientKey, createClientAddress } from '../gateway/client-address.ts';
import { loadConfig } from '../gateway/config.ts';
import { call, expectError, expectJson, movableClock, startRegistryWithMail, type MailRegistry } from './helpers/accounts.ts';

/** A registry whose per-client login limit is one mail, so that a second mail from one client is 429. */
async function start(t: import('ava').ExecutionContext, env: Record<string, string> = {}): Promise<MailRegistry> {
  const reg = await startRegistryWithMail({ env, overrides: { clock: movableClock(), accounts: { loginMailPerClient: { burst: 1, everyMs: 600_000 } } } });
  t.teardown(() => reg.close());
  return reg;
}

/** `POST /session` as a proxy forwarding a client would send it (the test's socket is 127.0.0.1). */
const askLogin = (reg: MailRegistry, email: string, forwardedFor?: string) =>
  call(reg.url, 'POST', '/session', { body: { email }, ...(forwardedFor === undefined ? {} : { headers: { 'x-forwarded-for': forwardedFor } }) });

test('behind one trusted proxy (TRUST_PROXY=1), each forwarded client has its own limit', async (t) => {
  const reg = await start(t, { TRUST_PROXY: '1' });
  await expectJson(await askLogin(reg, 'a@example.com', '203.0.113.7'), 200);
  await expectError(await askLogin(reg, 'b@example.com', '203.0.113.7'), 429, 'rate_limited');
  // Another client behind the same proxy is not locked out by the first.
  await expectJson(await askLogin(reg, 'c@example.com', '203.0.113.8'), 200);
  // Only the right-most entry is the proxy's word: what the client itself put in front is not.
  await expectError(await askLogin(reg, 'd@example.com', '198.51.100.1, 203.0.113.8'), 429, 'rate_limited');
  t.pass();
});

test('TRUST_PROXY as a list of addresses: the forwarded address counts only from a listed proxy', async (t) => {
  const listed = await start(t, { TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' });
  await expectJson(await askLogin(listed, 'a@example.com', '203.0.113.7'), 200);
  await expectJson(await askLogin(listed, 'b@example.com', '203.0.113.8'), 200);
  // A chain of listed proxies is walked from the right to the first address not listed.
  await expectJson(await askLogin(listed, 'c@example.com', '203.0.113.9, 10.1.2.3'), 200);
  await expectError(await askLogin(listed, 'd@example.com', '203.0.113.9, 10.9.9.9'), 429, 'rate_limited');

  const unlisted = await start(t, { TRUST_PROXY: '10.0.0.0/8' });
  await expectJson(await askLogin(unlisted, 'a@example.com', '203.0.113.7'), 200);
  await expectError(await askLogin(unlisted, 'b@example.com', '203.0.113.8'), 429, 'rate_limited');
  t.pass();
});

test('without TRUST_PROXY the forwarded header is ignored: a client cannot pick its own address', async (t) => {
  const reg = await start(t);
  await expectJson(await askLogin(reg, 'a@example.com', '203.0.113.7'), 200);
  await expectError(await askLogin(reg, 'b@example.com', '203.0.113.8'), 429, 'rate_limited');
  await expectError(await askLogin(reg, 'c@example.com'), 429, 'rate_limited');
  t.pass();
});

const trusting = (value: string) => createClientAddress(loadConfig({ TRUST_PROXY: value }).trustProxy);

test('the client address is the right-most address not added by a trusted proxy', (t) => {
  const none = createClientAddress(null);
  t.is(none('127.0.0.1', '203.0.113.7'), '127.0.0.1', 'no proxy trusted: the socket');
  t.is(none('::ffff:192.0.2.1', ''), '192.0.2.1', 'IPv4-mapped IPv6 is IPv4');
  t.is(none(undefined, ''), 'unknown', 'a socket already gone');

  const one = trusting('1');
  t.is(one('127.0.0.1', ''), '127.0.0.1', 'nothing forwarded: the proxy itself');
  t.is(one('127.0.0.1', '198.51.100.1, 203.0.113.7'), '203.0.113.7');
  t.is(one('127.0.0.1', ' 2001:DB8::1 '), '2001:db8::1');
  t.is(one('127.0.0.1', '::ffff:203.0.113.7'), '203.0.113.7');
  t.is(one('127.0.0.1', 'not-an-address'), '127.0.0.1', 'a malformed entry stops at the proxy that passed it on');

  const two = trusting('2');
  t.is(two('127.0.0.1', '198.51.100.1, 203.0.113.7, 10.0.0.2'), '203.0.113.7');
  t.is(two('127.0.0.1', '10.0.0.2'), '10.0.0.2', 'a shorter chain: the left-most entry');
  t.is(two('127.0.0.1', 'forged, 10.0.0.2'), '10.0.0.2');

  const listed = trusting('10.0.0.0/8, fd00::/8, 127.0.0.1');
  t.is(listed('127.0.0.1', '198.51.100.1, 203.0.113.7, 10.0.0.2'), '203.0.113.7');
  t.is(listed('::ffff:127.0.0.1', '203.0.113.7, fd12::3, 10.1.1.1'), '203.0.113.7', 'walks trusted IPv6 and IPv4 proxies alike');
  t.is(listed('192.0.2.9', '203.0.113.7'), '192.0.2.9', 'a peer not listed is the client, whatever it says');
  t.is(listed('127.0.0.1', '10.0.0.5, 10.0.0.2'), '10.0.0.5', 'only proxies in the chain: the left-most');
});

test('per-client limits count IPv4 by address and IPv6 by /64', (t) => {
  t.is(clientKey('203.0.113.7'), '203.0.113.7');
  t.is(clientKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  t.is(clientKey('2001:0DB8:0001:0002:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64');
  t.is(clientKey('2001:db8::'), '2001:db8:0:0::/64');
  t.is(clientKey('::1'), '0:0:0:0::/64');
  t.is(clientKey('64:ff9b::192.0.2.1'), '64:ff9b:0:0::/64');
  t.is(clientKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
  t.not(clientKey('2001:db8:1:2::1'), clientKey('2001:db8:1:3::1'));
});
