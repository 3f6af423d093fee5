import test from 'ava';
import fs from 'node:fs';
import { answerLoginLink, readLoginMail } from './helpers/accounts.ts';
import { tempDir } from './helpers/registry.ts';
import { logIn, runClient, startClient, userFile, world } from './helpers/client.ts';

test('a login denied on the link’s page ends the client’s login at once, with nothing saved', async (t) => {
  const w = await world(t);
  const client = startClient(['login', 'kim@example.com', '--json'], { home: w.home, registry: w.reg.url });
  const { link } = readLoginMail(await w.reg.smtp.waitForMail('kim@example.com'));
  const started = Date.now();
  t.is((await answerLoginLink(link, 'deny')).status, 200);
  const run = await client.done;
  t.true(Date.now() - started < 10_000, 'without waiting for a code to be typed');
  t.is(run.code, 1);
  t.is(JSON.parse(run.stdout).error, 'login_denied');
  t.false(fs.existsSync(userFile(w.home)));
});

test('sessions lists sessions and tokens with where they were last used; sessions revoke ends one', async (t) => {
  const w = await world(t);
  await logIn(w, 'robin@example.com');
  // A second computer logs in as the same person.
  const secondHome = tempDir('gren-second-');
  t.teardown(() => fs.rmSync(secondHome, { recursive: true, force: true }));
  const second = startClient(['login', 'robin@example.com'], { home: secondHome, registry: w.reg.url });
  second.type(readLoginMail(await w.reg.smtp.waitForMail('robin@example.com')).code);
  t.is((await second.done).code, 0);
  await w.run(['identity', 'create', 'robin']);
  const token = JSON.parse((await w.run(['token', 'create', 'ci', '--identity', 'robin', '--role', 'download', '--json'])).stdout) as { id: string; token: string };

  const listed = await w.run(['sessions']);
  t.is(listed.code, 0, listed.stderr);
  t.regex(listed.stdout, /^Sessions:\n {2}ID\s+LOGGED IN\s+LAST USED\s+FROM\s+PROGRAM\s+ENDS UNUSED$/m);
  t.regex(listed.stdout, /^ {2}\d+ \*\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+.*127\.0\.0\.1\s+gren-registry\/\S+/m);
  t.regex(listed.stdout, new RegExp(`^ {2}${token.id}\\s+ci\\s+download in robin\\s+-\\s+-\\s+-$`, 'm'));
  t.false(listed.stdout.includes(token.token));

  const json = JSON.parse((await w.run(['sessions', '--json'])).stdout) as { sessions: Array<{ id: string; current: boolean }>; tokens: Array<{ id: string }> };
  t.is(json.sessions.length, 2);
  t.deepEqual(json.tokens.map((x) => x.id), [token.id]);
  const secondId = json.sessions.find((s) => !s.current)!.id;
  const ownId = json.sessions.find((s) => s.current)!.id;

  const revoked = await w.run(['sessions', 'revoke', secondId]);
  t.is(revoked.code, 0, revoked.stderr);
  t.regex(revoked.stdout, new RegExp(`Logged out the session ${secondId}\\.`));
  const secondWhoami = await runClient(['whoami'], { home: secondHome, registry: w.reg.url });
  t.is(secondWhoami.code, 1);
  t.regex(secondWhoami.stderr, /\[unauthorized\]/);

  t.deepEqual(JSON.parse((await w.run(['sessions', 'revoke', token.id, '--json'])).stdout), { id: token.id, kind: 'token', revoked: true, loggedOut: false });
  const again = await w.run(['sessions', 'revoke', secondId, '--json']);
  t.is(again.code, 1);
  t.is(JSON.parse(again.stdout).error, 'not_found');
  t.is((await w.run(['sessions', 'revoke'])).code, 2);

  const own = await w.run(['sessions', 'revoke', ownId]);
  t.is(own.code, 0, own.stderr);
  t.regex(own.stdout, /you are now logged out/);
  t.false(fs.existsSync(userFile(w.home)));
});
