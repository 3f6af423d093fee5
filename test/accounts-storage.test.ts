import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { startRegistryProcess } from './helpers/process.ts';
import {
  call,
  createIdentity,
  createToken,
  expectError,
  expectJson,
  loggedIn,
  readLoginMail,
  requestLogin,
  startRegistryWithMail,
  type MailRegistry,
  fetchClient,
  openLoginPage,
  pressButton,
} from './helpers/accounts.ts';
import { startSmtp } from './helpers/smtp.ts';
import { tempDir } from './helpers/registry.ts';
import { openAccounts } from '../gateway/accounts/accounts.ts';
import { migrations } from '../gateway/accounts/migrations.ts';
import { openDatabase, recordUse } from '../gateway/accounts/database.ts';
import { hashSecret } from '../gateway/accounts/secrets.ts';
import { memoryLogger } from '../gateway/log.ts';
import { systemClock } from '../gateway/clock.ts';

/** Every file under `dir`, read as bytes. */
function filesUnder(dir: string): Array<{ file: string; bytes: Buffer }> {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => {
      const file = path.join(entry.parentPath, entry.name);
      return { file, bytes: fs.readFileSync(file) };
    });
}

/** The secrets a login hands out, and the session it gives. */
async function loginByCode(reg: MailRegistry, email: string) {
  const fetchToken = await requestLogin(reg, email);
  const { code, link } = readLoginMail(await reg.smtp.waitForMail(email));
  const { sessionToken } = await expectJson(await call(reg.url, 'POST', '/session/fetch', { body: { fetchSessionToken: fetchToken, emailConfirmationCode: code } }), 200);
  return { fetchToken, code, link, sessionToken: sessionToken as string };
}

async function loginByLink(reg: MailRegistry, email: string) {
  const fetchToken = await requestLogin(reg, email);
  const { code, link } = readLoginMail(await reg.smtp.waitForMail(email));
  const page = await openLoginPage(link);
  const confirmed = await pressButton(page.confirm!);
  if (confirmed.status !== 200) throw new Error(`The confirm button answered ${confirmed.status}.`);
  const { sessionToken } = await expectJson(await call(reg.url, 'POST', '/session/fetch', { body: { fetchSessionToken: fetchToken } }), 200);
  return { fetchToken, code, link, sessionToken: sessionToken as string, pageToken: new URL(page.confirm!).searchParams.get('page')! };
}

test('no token, code or link secret is in any file of the data folder, nor in the log', async (t) => {
  const reg = await startRegistryWithMail();
  t.teardown(() => reg.close());
  const byCode = await loginByCode(reg, 'robin@example.com');
  const byLink = await loginByLink(reg, 'kim@example.com');
  const loggedOut = await loginByCode(reg, 'lee@example.com');
  await expectJson(await call(reg.url, 'DELETE', '/session', { token: loggedOut.sessionToken }), 200);
  const pendingFetch = await requestLogin(reg, 'pending@example.com');
  const pending = readLoginMail(await reg.smtp.waitForMail('pending@example.com'));
  await createIdentity(reg, byCode.sessionToken, 'gren-lang');
  const token = await createToken(reg, byCode.sessionToken, { identity: 'gren-lang', role: 'publish' });
  await expectJson(await call(reg.url, 'GET', '/session', { token: token.token }), 200);

  const secrets = new Map<string, string>();
  for (const [who, login] of Object.entries({ byCode, byLink, loggedOut })) {
    secrets.set(`${who} fetch token`, login.fetchToken);
    secrets.set(`${who} code`, login.code);
    secrets.set(`${who} link secret`, new URL(login.link).searchParams.get('secret')!);
    secrets.set(`${who} session token`, login.sessionToken);
  }
  secrets.set('pending fetch token', pendingFetch);
  secrets.set('pending code', pending.code);
  secrets.set('pending link secret', new URL(pending.link).searchParams.get('secret')!);
  secrets.set('automation token', token.token);
  secrets.set('page token of the link', byLink.pageToken);
  // The random part alone, too, in case a prefix were stored apart from it.
  for (const [what, secret] of [...secrets]) if (/^gr[a-z]_/.test(secret)) secrets.set(`${what} (random part)`, secret.slice(4));

  const scan = () => {
    const files = filesUnder(reg.dataDir);
    for (const { file, bytes } of files) {
      for (const [what, secret] of secrets) t.false(bytes.includes(secret), `${what} found in ${path.relative(reg.dataDir, file)}`);
    }
    return files.map(({ file }) => path.relative(reg.dataDir, file));
  };
  const whileRunning = scan();
  t.true(whileRunning.includes('accounts.sqlite-wal'), 'the write-ahead log was scanned');
  t.true(fs.statSync(path.join(reg.dataDir, 'accounts.sqlite-wal')).size > 0);
  const logText = reg.log.lines.map((line) => JSON.stringify(line)).join('\n');
  for (const [what, secret] of secrets) t.false(logText.includes(secret), `${what} found in the log`);

  await reg.close();
  t.true(scan().includes('accounts.sqlite'));
});

test('a restart on the same data folder keeps every session, token, identity and login in progress', async (t) => {
  const smtp = await startSmtp();
  t.teardown(() => smtp.close());
  const first = await startRegistryWithMail({ smtp });
  const robin = await loggedIn(first, 'robin@example.com');
  const kim = await loggedIn(first, 'kim@example.com');
  const gone = await loggedIn(first, 'kim@example.com');
  await expectJson(await call(first.url, 'DELETE', '/session', { token: gone }), 200);
  await createIdentity(first, robin, 'gren-lang');
  await expectJson(await call(first.url, 'PUT', '/publishing-identity/gren-lang/members/kim@example.com', { token: robin, body: { role: 'publish' } }), 200);
  const token = await createToken(first, kim, { identity: 'gren-lang', role: 'publish' });
  const fetchSessionToken = await requestLogin(first, 'lee@example.com');
  const { code } = readLoginMail(await smtp.waitForMail('lee@example.com'));
  await first.close();

  const second = await startRegistryWithMail({ smtp, dataDir: first.dataDir });
  t.teardown(() => second.close());
  t.deepEqual(await expectJson(await call(second.url, 'GET', '/session', { token: robin }), 200), {
    email: 'robin@example.com',
    identities: [{ name: 'gren-lang', role: 'admin' }],
  });
  t.deepEqual((await expectJson(await call(second.url, 'GET', '/session', { token: kim }), 200)).identities, [{ name: 'gren-lang', role: 'publish' }]);
  await expectError(await call(second.url, 'GET', '/session', { token: gone }), 401, 'unauthorized');
  t.deepEqual((await expectJson(await call(second.url, 'GET', '/session', { token: token.token }), 200)).identities, [{ name: 'gren-lang', role: 'publish' }]);
  await expectJson(await call(second.url, 'POST', '/session/fetch', { body: { fetchSessionToken, emailConfirmationCode: code } }), 200);
});

test('a login confirmed, and a token used, just before the process is killed (SIGKILL) survive', async (t) => {
  const smtp = await startSmtp();
  t.teardown(() => smtp.close());
  const dataDir = tempDir();
  const child = await startRegistryProcess({ REGISTRY_DATA: dataDir, SMTP_URL: smtp.url });
  t.teardown(() => child.stop());
  const remote = { url: child.url, smtp };
  const session = await loggedIn(remote, 'robin@example.com');
  await createIdentity(remote, session, 'gren-lang');
  const token = await createToken(remote, session, { identity: 'gren-lang', role: 'publish' });
  // The record of this use is the one write not flushed on its own.
  await expectJson(await call(child.url, 'GET', '/session', { token: token.token }), 200);
  await child.stop('SIGKILL');

  const again = await startRegistryWithMail({ smtp, dataDir });
  t.teardown(() => again.close());
  t.deepEqual(await expectJson(await call(again.url, 'GET', '/session', { token: session }), 200), {
    email: 'robin@example.com',
    identities: [{ name: 'gren-lang', role: 'admin' }],
  });
  const [listed] = await expectJson<Array<{ lastUsed: string | null }>>(await call(again.url, 'GET', '/tokens', { token: session }), 200);
  t.not(listed?.lastUsed, null);
});

test('a record of a use is written unflushed, and every other write is flushed again after it, even when it fails', (t) => {
  const dir = tempDir();
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const db = openDatabase(path.join(dir, 'accounts.sqlite'));
  t.teardown(() => db.close());
  const synchronous = () => (db.prepare('PRAGMA synchronous').get() as { synchronous: number }).synchronous;
  const FULL = 2;
  const NORMAL = 1;
  t.is(synchronous(), FULL);
  let during = -1;
  recordUse(db, () => {
    during = synchronous();
  });
  t.is(during, NORMAL);
  t.is(synchronous(), FULL);
  t.throws(() => recordUse(db, () => db.exec('UPDATE no_such_table SET x = 1')), { message: /no such table/ });
  t.is(synchronous(), FULL);
  recordUse(db, () => {
    throw Object.assign(new Error('database or disk is full'), { errcode: 13 });
  });
  t.is(synchronous(), FULL, 'a full disk skips the record and restores the flush');
});

test('migrations run once, and a second connection (an ops tool) works beside the registry’s', (t) => {
  const dir = tempDir();
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'accounts.sqlite');
  const open = () => openAccounts({ file, clock: systemClock, log: memoryLogger() });
  const registry = open();
  const tool = open();
  t.teardown(() => {
    tool.close();
    registry.close();
  });
  t.is((registry.db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version, migrations.length);
  t.is((registry.db.prepare('PRAGMA journal_mode').get() as { journal_mode: string }).journal_mode, 'wal');

  tool.identities.create('imported', 'robin@example.com');
  t.is(registry.identities.roleOf('robin@example.com', 'imported'), 'admin');
  const { token } = registry.sessions.create(registry.users.ensure('robin@example.com').id, fetchClient);
  t.is(tool.authenticate(token, fetchClient)?.email, 'robin@example.com');
});

test('a database of the first schema is migrated: its logins, sessions and tokens keep working', (t) => {
  const dir = tempDir();
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'accounts.sqlite');
  const old = new DatabaseSync(file);
  old.exec(migrations[0]!);
  old.exec('PRAGMA user_version = 1');
  const now = Date.now();
  const session = 'grs_' + 'a'.repeat(43);
  const token = 'grt_' + 'b'.repeat(43);
  old.prepare('INSERT INTO users (id, email, created) VALUES (1, ?, ?)').run('robin@example.com', now);
  old.prepare('INSERT INTO identities (id, name, name_key, created) VALUES (1, ?, ?, ?)').run('gren-lang', 'gren-lang', now);
  old.prepare("INSERT INTO memberships (identity_id, email, role, added) VALUES (1, ?, 'admin', ?)").run('robin@example.com', now);
  old.prepare('INSERT INTO sessions (user_id, token_hash, created) VALUES (1, ?, ?)').run(hashSecret(session), now - 1000);
  old.prepare("INSERT INTO tokens (id, user_id, name, identity_id, role, token_hash, created) VALUES ('t1', 1, 'ci', 1, 'publish', ?, ?)").run(hashSecret(token), now);
  old.prepare('INSERT INTO login_requests (email, fetch_hash, code_hash, link_hash, created, expires) VALUES (?, ?, ?, ?, ?, ?)').run('kim@example.com', hashSecret('grf_x'), hashSecret('c'), hashSecret('link'), now, now + 60_000);
  old.close();

  const accounts = openAccounts({ file, clock: systemClock, log: memoryLogger() });
  t.teardown(() => accounts.close());
  t.is((accounts.db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version, migrations.length);
  const [listed] = accounts.sessions.list(1);
  t.like(listed, { lastAddress: null, lastUserAgent: null });
  t.like(accounts.logins.pending('link'), { email: 'kim@example.com', address: '', userAgent: '' });
  t.is(accounts.authenticate(session, fetchClient)?.email, 'robin@example.com');
  t.is(accounts.authenticate(token, fetchClient)?.via, 'token');
  t.like(accounts.sessions.list(1)[0], { lastAddress: '127.0.0.1', lastUserAgent: 'node' });
  t.like(accounts.tokens.list(1)[0], { lastAddress: '127.0.0.1', lastUserAgent: 'node' });
});

test('a database from a newer registry is refused rather than misread', (t) => {
  const dir = tempDir();
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'accounts.sqlite');
  openAccounts({ file, clock: systemClock, log: memoryLogger() }).close();
  const db = new DatabaseSync(file);
  db.exec(`PRAGMA user_version = ${migrations.length + 1}`);
  db.close();
  t.throws(() => openAccounts({ file, clock: systemClock, log: memoryLogger() }), { message: /newer than this registry knows/ });
});
