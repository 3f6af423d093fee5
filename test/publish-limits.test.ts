import test from 'ava';
import { bundle } from './helpers/bundle.ts';
import { putBundle } from './helpers/fixtures.ts';
import { addMember, createIdentity, createToken, expectError, expectJson, loggedIn, movableClock, startRegistryWithMail, type MailRegistry } from './helpers/accounts.ts';
import { loadConfig } from '../gateway/config.ts';

async function start(t: import('ava').ExecutionContext, env: Record<string, string>) {
  const clock = movableClock();
  const reg = await startRegistryWithMail({ env, overrides: { clock } });
  t.teardown(() => reg.close());
  return Object.assign(reg, { clock });
}

let counter = 0;
/** Publishes a fresh version of `name` (its own package, one version each): answers the response. */
const publishOne = (reg: MailRegistry, token: string, name: string, version = `1.0.${counter++}`) => putBundle(reg.url, token, name, version, bundle({ name, version }));

test('the default is crates.io’s limit on new versions: 30 at once, then one a minute', (t) => {
  t.deepEqual(loadConfig({}).publishLimit, { burst: 30, everyMs: 60_000 });
});

test('per user: the burst, then 429 with Retry-After, then one more per interval; tokens count as their user', async (t) => {
  const reg = await start(t, { PUBLISH_BURST: '3', PUBLISH_INTERVAL_SECONDS: '60' });
  const robin = await loggedIn(reg, 'robin@example.com');
  await createIdentity(reg, robin, 'robin');
  await createIdentity(reg, robin, 'robins-other');
  const ci = (await createToken(reg, robin, { identity: 'robin', role: 'publish' })).token;
  await expectJson(await publishOne(reg, robin, 'robin/one'), 201);
  await expectJson(await publishOne(reg, ci, 'robin/two'), 201);
  await expectJson(await publishOne(reg, robin, 'robins-other/three'), 201);
  for (const [token, name] of [[robin, 'robin/four'], [ci, 'robin/four'], [robin, 'robins-other/four']] as const) {
    const refused = await publishOne(reg, token, name);
    t.is(refused.headers.get('retry-after'), '60');
    const { message } = await expectError(refused, 429, 'rate_limited');
    t.regex(message, /You have published too many/);
  }
  reg.clock.advance(30_000);
  t.is((await publishOne(reg, robin, 'robin/four')).headers.get('retry-after'), '30');
  reg.clock.advance(30_000);
  await expectJson(await publishOne(reg, robin, 'robin/four'), 201);
  await expectError(await publishOne(reg, robin, 'robin/five'), 429, 'rate_limited', t);
  await expectError(await fetch(`${reg.url}/index/packages/robin/five/index.json`), 404, 'not_found', t);
});

test('per identity: its members together get one burst', async (t) => {
  const reg = await start(t, { PUBLISH_BURST: '2', PUBLISH_INTERVAL_SECONDS: '600' });
  const owner = await loggedIn(reg, 'owner@example.com');
  await createIdentity(reg, owner, 'team');
  await createIdentity(reg, owner, 'elsewhere');
  await addMember(reg, owner, 'team', 'second@example.com', 'publish');
  const second = await loggedIn(reg, 'second@example.com');
  await createIdentity(reg, second, 'seconds-own');
  await expectJson(await publishOne(reg, owner, 'team/a'), 201);
  await expectJson(await publishOne(reg, second, 'team/b'), 201);
  const refused = await publishOne(reg, second, 'team/c');
  t.is(refused.headers.get('retry-after'), '600');
  t.regex((await expectError(refused, 429, 'rate_limited')).message, /publishing identity team has/);
  // The refusal by the identity did not use up the member's own allowance.
  await expectJson(await publishOne(reg, second, 'seconds-own/a'), 201);
  await expectJson(await publishOne(reg, owner, 'elsewhere/a'), 201);
});

test('refused or failed publishes do not count, and the limit is checked before the bundle is read', async (t) => {
  const reg = await start(t, { PUBLISH_BURST: '1', PUBLISH_INTERVAL_SECONDS: '60' });
  const robin = await loggedIn(reg, 'robin@example.com');
  await createIdentity(reg, robin, 'robin');
  for (let i = 0; i < 5; i++) {
    await expectError(await putBundle(reg.url, robin, 'robin/tool', '1.0.0', bundle({ name: 'robin/tool', version: '1.0.1' })), 422, 'version_mismatch');
    await expectError(await putBundle(reg.url, robin, 'robin/tool', '1.0.0', Buffer.from('not gzip')), 422, 'invalid_bundle');
  }
  await expectJson(await publishOne(reg, robin, 'robin/tool', '1.0.0'), 201);
  await expectError(await publishOne(reg, robin, 'robin/tool', '1.0.0'), 429, 'rate_limited', t);
  // Limited: refused before reading, so even a body that is not a bundle gets 429.
  await expectError(await putBundle(reg.url, robin, 'robin/tool', '2.0.0', Buffer.from('not gzip')), 429, 'rate_limited', t);
});
