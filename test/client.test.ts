import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { answerLoginLink, readLoginMail } from './helpers/accounts.ts';
import { freePort, tempDir } from './helpers/registry.ts';
import { eventually, logIn, runClient, startClient, userFile, world } from './helpers/client.ts';
import { fixturesDir } from './helpers/bundle.ts';
import { buildBundle } from '../scripts/client/bundle.ts';

test('login with the mailed code saves the session with mode 0600; whoami and logout use it', async (t) => {
  const w = await world(t);
  const login = await logIn(w, 'Robin@Example.com');
  t.regex(login.stderr, /confirmation code is on its way to Robin@Example\.com/);
  t.regex(login.stdout, /Logged in to http:\/\/127\.0\.0\.1:\d+ as robin@example\.com\./);

  t.is(fs.statSync(userFile(w.home)).mode & 0o777, 0o600);
  t.is(fs.statSync(path.dirname(userFile(w.home))).mode & 0o777, 0o700);
  const saved = JSON.parse(fs.readFileSync(userFile(w.home), 'utf8'));
  t.is(saved.registries[w.reg.url].email, 'robin@example.com');
  t.regex(saved.registries[w.reg.url].sessionToken, /^grs_/);
  t.deepEqual(fs.readdirSync(path.dirname(userFile(w.home))), ['user'], 'no temporary file is left behind');

  const whoami = await w.run(['whoami']);
  t.is(whoami.code, 0);
  t.regex(whoami.stdout, /^robin@example\.com on http/);

  const logout = await w.run(['logout']);
  t.is(logout.code, 0, logout.stderr);
  t.regex(logout.stdout, /Logged out robin@example\.com/);
  t.false(fs.existsSync(userFile(w.home)));

  const after = await w.run(['whoami']);
  t.is(after.code, 1);
  t.regex(after.stderr, /You are not logged in to .*\[not_logged_in\]/);
  const revoked = await fetch(`${w.reg.url}/session`, { headers: { authorization: `Bearer ${saved.registries[w.reg.url].sessionToken}` } });
  t.is(revoked.status, 401, 'logout revoked the session on the registry too');
});

test('login asks for the address, and completes when the link’s page is confirmed while the prompt waits', async (t) => {
  const w = await world(t);
  const client = startClient(['login'], { home: w.home, registry: w.reg.url });
  await eventually(() => client.output().stderr.includes('Email:'), 'the email prompt');
  client.type('kim@example.com');
  const { link } = readLoginMail(await w.reg.smtp.waitForMail('kim@example.com'));
  const page = await fetch(link);
  t.is(page.status, 200);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  t.false(fs.existsSync(userFile(w.home)), 'opening the page alone logs nobody in');
  t.is((await answerLoginLink(link)).status, 200);
  const run = await client.done;
  t.is(run.code, 0, run.stderr);
  t.regex(run.stdout, /as kim@example\.com/);
  t.true(fs.existsSync(userFile(w.home)));
});

test('a wrong code is explained and the right one typed next is accepted', async (t) => {
  const w = await world(t);
  const client = startClient(['login', 'sam@example.com'], { home: w.home, registry: w.reg.url });
  const { code } = readLoginMail(await w.reg.smtp.waitForMail('sam@example.com'));
  client.type('WRONG-CODE');
  await eventually(() => /code is wrong/.test(client.output().stderr), 'the wrong-code message');
  client.type(code.toLowerCase().replace(/(....)(....)/, '$1 $2'));
  const run = await client.done;
  t.is(run.code, 0, run.stderr);
  t.regex(run.stderr, /The confirmation code is wrong; 4 tries left\. Type it again:/);
});

test('logging in again replaces the saved session and revokes the old one', async (t) => {
  const w = await world(t);
  await logIn(w, 'robin@example.com');
  const first = JSON.parse(fs.readFileSync(userFile(w.home), 'utf8')).registries[w.reg.url].sessionToken;
  await logIn(w, 'robin@example.com');
  const second = JSON.parse(fs.readFileSync(userFile(w.home), 'utf8')).registries[w.reg.url].sessionToken;
  t.not(first, second);
  t.is((await fetch(`${w.reg.url}/session`, { headers: { authorization: `Bearer ${first}` } })).status, 401);
  t.is((await fetch(`${w.reg.url}/session`, { headers: { authorization: `Bearer ${second}` } })).status, 200);
});

test('identities: create, show, add, change a role, remove; refusals carry their code and exit 1', async (t) => {
  const w = await world(t);
  await logIn(w, 'robin@example.com');
  const created = await w.run(['identity', 'create', 'robin']);
  t.is(created.code, 0, created.stderr);
  t.regex(created.stdout, /Created the publishing identity robin; you are its admin\./);

  const again = await w.run(['identity', 'create', 'Robin']);
  t.is(again.code, 1);
  t.regex(again.stderr, /^Error: .*exists already.* \[identity_exists\]$/m);

  t.is((await w.run(['identity', 'add', 'robin', 'kim@example.com'])).code, 0);
  const roleChange = await w.run(['identity', 'role', 'robin', 'kim@example.com', 'admin']);
  t.regex(roleChange.stdout, /kim@example\.com now has the role admin in robin \(was publish\)\./);
  const notMember = await w.run(['identity', 'role', 'robin', 'lee@example.com', 'admin']);
  t.is(notMember.code, 1);
  t.regex(notMember.stderr, /lee@example\.com is not a member of robin\. \[not_a_member\]\nAdd them with gren-registry identity add robin lee@example\.com --role admin\./);

  const shown = await w.run(['identity', 'show', 'robin', '--json']);
  t.deepEqual(JSON.parse(shown.stdout), {
    name: 'robin',
    members: [
      { email: 'kim@example.com', role: 'admin' },
      { email: 'robin@example.com', role: 'admin' },
    ],
  });
  t.is((await w.run(['identity', 'remove', 'robin', 'kim@example.com'])).code, 0);
  const lastAdmin = await w.run(['identity', 'remove', 'robin', 'robin@example.com', '--json']);
  t.is(lastAdmin.code, 1);
  t.is(JSON.parse(lastAdmin.stdout).error, 'last_admin');
  const badRole = await w.run(['identity', 'add', 'robin', 'kim@example.com', '--role', 'owner']);
  t.is(badRole.code, 2);
  t.regex(badRole.stderr, /"owner" is not a role: expected download, publish or admin\. \[usage\]/);
});

test('tokens: create shows the secret once, list never does, the token works for scripts, revoke stops it', async (t) => {
  const w = await world(t);
  await logIn(w, 'robin@example.com');
  await w.run(['identity', 'create', 'robin']);
  const created = await w.run(['token', 'create', 'ci', '--identity', 'robin', '--role', 'publish', '--expires-in-days', '30', '--json']);
  t.is(created.code, 0, created.stderr);
  const { id, token } = JSON.parse(created.stdout) as { id: string; token: string };
  t.regex(token, /^grt_/);

  const listed = await w.run(['token', 'list']);
  t.regex(listed.stdout, new RegExp(`^${id}\\s+ci\\s+robin\\s+publish\\s`, 'm'));
  t.false(listed.stdout.includes(token));

  const asScript = await runClient(['whoami', '--json'], { home: tempDir('gren-ci-'), registry: w.reg.url, env: { GREN_REGISTRY_TOKEN: token } });
  t.deepEqual(JSON.parse(asScript.stdout).identities, [{ name: 'robin', role: 'publish' }]);

  t.is((await w.run(['token', 'revoke', id])).code, 0);
  const afterRevoke = await runClient(['whoami'], { home: tempDir('gren-ci-'), registry: w.reg.url, env: { GREN_REGISTRY_TOKEN: token } });
  t.is(afterRevoke.code, 1);
  t.regex(afterRevoke.stderr, /\[unauthorized\]\nYour login may have expired or been revoked/);
  const missing = await w.run(['token', 'create', 'ci', '--role', 'publish']);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /--identity is required/);
});

test('every command has --help; unknown commands and options are usage errors (exit 2)', async (t) => {
  const home = tempDir('gren-home-');
  t.teardown(() => fs.rmSync(home, { recursive: true, force: true }));
  const overview = await runClient(['--help'], { home });
  t.is(overview.code, 0);
  const names = [...overview.stdout.matchAll(/^ {2}([a-z][a-z-]*(?: [a-z]+)?)(?= [A-Z[]| {2})/gm)].map((m) => m[1] as string);
  t.true(names.length >= 16, names.join(','));
  const helps = await Promise.all(names.map((name) => runClient([...name.split(' '), '--help'], { home })));
  for (const [index, help] of helps.entries()) {
    const name = names[index] as string;
    t.is(help.code, 0, name);
    t.true(help.stdout.startsWith(`Usage: gren-registry ${name}`), `${name}: ${help.stdout.slice(0, 80)}`);
  }
  const unknown = await runClient(['frobnicate'], { home });
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /"frobnicate" is not a command\. \[usage\]/);
  const option = await runClient(['latest', 'a/b', '--newest'], { home });
  t.is(option.code, 2);
  t.regex(option.stderr, /gren-registry latest has no option --newest\./);
});

test('a registry that cannot be reached is one clear sentence, and --json makes it a JSON error', async (t) => {
  const home = tempDir('gren-home-');
  t.teardown(() => fs.rmSync(home, { recursive: true, force: true }));
  const closed = `http://127.0.0.1:${await freePort()}`;
  const run = await runClient(['latest', 'gren-lang/core', '--json', '--registry', closed], { home });
  t.is(run.code, 1);
  const answer = JSON.parse(run.stdout);
  t.is(answer.error, 'unreachable');
  t.is(answer.message, `Could not reach the registry at ${closed} (ECONNREFUSED).`);
  const human = await runClient(['latest', 'gren-lang/core'], { home, registry: closed });
  t.is(human.stderr, `Error: Could not reach the registry at ${closed} (ECONNREFUSED). [unreachable]\nCheck that it is running, or give its address with --registry or GREN_REGISTRY.\n`);
});

/** A package folder as a person keeps one: gren.json, modules in src/, kernel code, and files that are not published. */
function packageFolder(t: { teardown(fn: () => unknown): void }, version: string): string {
  const dir = tempDir('gren-package-');
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const outline = {
    type: 'package',
    platform: 'common',
    name: 'gren-lang/example',
    summary: 'An example package',
    license: 'BSD-3-Clause',
    version,
    'exposed-modules': ['Example'],
    'gren-version': '0.6.0 <= v < 0.7.0',
    dependencies: { 'gren-lang/core': '7.0.0 <= v < 8.0.0' },
  };
  const files: Record<string, string> = {
    'gren.json': JSON.stringify(outline, null, 4),
    'src/Example.gren': 'module Example exposing (answer)\n\nanswer : Int\nanswer = 42\n',
    'src/Gren/Kernel/Example.js': 'var _Example_answer = 42;\n',
    'README.md': '# Example\n',
    'tests/src/Test.gren': 'module Test exposing (..)\n',
  };
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), content);
  }
  return dir;
}

test('a person publishes a fixture bundle and a package folder, revokes, and asks latest, previous and versions', async (t) => {
  const w = await world(t);
  await logIn(w, 'robin@example.com');
  t.is((await w.run(['identity', 'create', 'gren-lang'])).code, 0);

  const core = await w.run(['publish', path.join(fixturesDir, 'gren_lang_core__7_0_0.pkg.gz')]);
  t.is(core.code, 0, core.stderr);
  t.regex(core.stderr, /^Publishing gren-lang\/core 7\.0\.0 to http:\/\/127\.0\.0\.1:\d+$/m);
  t.regex(core.stderr, /^ {2}modules {3}45 \(17 kernel\), bundle 100\.9 KiB$/m);
  t.regex(core.stderr, /^Uploading 100\.9 KiB\n {2}25% .*\n {2}50% .*\n {2}75% .*\n {2}100% \(100\.9 KiB\)$/m);
  t.regex(core.stdout, /^Published gren-lang\/core 7\.0\.0\.\n {2}sha256 {2}[0-9a-f]{64}\n {2}commit {2}[0-9a-f]{40}\n$/);

  const folder = packageFolder(t, '1.0.0');
  const first = await w.run(['publish', '--json'], { cwd: folder });
  t.is(first.code, 0, first.stderr);
  const published = JSON.parse(first.stdout);
  t.like(published, { name: 'gren-lang/example', version: '1.0.0' });
  const served = Buffer.from(await (await fetch(`${w.reg.url}/index/packages/gren-lang/example/1.0.0/bundle.pkg.gz`)).arrayBuffer());
  t.deepEqual(served, (await buildBundle(folder)).bytes, 'the registry holds exactly the bundle gren would build from the folder');
  t.regex(first.stderr, /^ {2}depends {3}gren-lang\/core 7\.0\.0 <= v < 8\.0\.0$/m);

  fs.writeFileSync(path.join(folder, 'gren.json'), fs.readFileSync(path.join(folder, 'gren.json'), 'utf8').replace('"1.0.0"', '"1.0.1"'));
  t.is((await w.run(['publish', folder])).code, 0);
  t.is((await w.run(['latest', 'gren-lang/example'])).stdout, '1.0.1\n');

  const revoked = await w.run(['revoke', 'gren-lang/example', '1.0.1', '--reason', 'Answers 41']);
  t.is(revoked.code, 0, revoked.stderr);
  t.regex(revoked.stdout, /^Revoked gren-lang\/example 1\.0\.1 on \d{4}-\d\d-\d\dT/);
  t.is((await w.run(['latest', 'gren-lang/example'])).stdout, '1.0.0\n');
  t.is((await w.run(['latest', 'gren-lang/example', '--gren', '0.6.2'])).stdout, '1.0.0\n');
  t.is((await w.run(['previous', 'gren-lang/example', '1.0.1'])).stdout, '1.0.0\n');
  t.deepEqual(JSON.parse((await w.run(['previous', 'gren-lang/core', '7.4.0', '--json'])).stdout), { version: '7.0.0' });
  const none = await w.run(['latest', 'gren-lang/example', '--gren', '0.5.0']);
  t.is(none.code, 1);
  t.regex(none.stderr, /\[no_matching_version\]/);

  const versions = await w.run(['versions', 'gren-lang/example']);
  t.regex(versions.stdout, /^gren-lang\/example\n {2}1\.0\.0 {2}\d{4}-\d\d-\d\d {2}gren 0\.6\.0 <= v < 0\.7\.0\n {2}1\.0\.1 {2}\d{4}-\d\d-\d\d {2}revoked \d{4}-\d\d-\d\d: Answers 41\n$/);

  const again = await w.run(['publish', folder]);
  t.is(again.code, 1);
  t.regex(again.stderr, /^Error: gren-lang\/example 1\.0\.1 is registered already \(revoked\).* \[version_exists\]$/m);
  const noReason = await w.run(['revoke', 'gren-lang/example', '1.0.0']);
  t.is(noReason.code, 2);
  t.regex(noReason.stderr, /--reason is required/);

  t.is((await w.run(['logout'])).code, 0);
  const anonymous = await w.run(['publish', folder]);
  t.is(anonymous.code, 1);
  t.regex(anonymous.stderr, /\[not_logged_in\]/);
});

test('publish refuses what is not a package before uploading, and shows the registry refusals of what it uploads', async (t) => {
  const w = await world(t);
  await logIn(w, 'robin@example.com');
  t.is((await w.run(['identity', 'create', 'gren-lang'])).code, 0);

  const application = await w.run(['publish', path.join(fixturesDir, 'gren_lang_core__6_0_1.pkg.gz')]);
  t.is(application.code, 1);
  t.regex(application.stderr, /does not hold a package: its gren\.json needs "type": "package".* \[invalid_package\]/);
  t.notRegex(application.stderr, /Uploading/);

  const missingDependency = await w.run(['publish', path.join(fixturesDir, 'gren_lang_url__6_0_0.pkg.gz')]);
  t.is(missingDependency.code, 1);
  t.regex(missingDependency.stderr, /gren-lang\/core has no published, unrevoked version.* \[unknown_dependency\]$/m);

  const notMine = await w.run(['publish', path.join(fixturesDir, 'blaix_gren_ws4sql__4_0_0.pkg.gz'), '--json']);
  t.is(notMine.code, 1);
  t.like(JSON.parse(notMine.stdout), { error: 'not_found' } as object);

  const big = tempDir('gren-big-');
  t.teardown(() => fs.rmSync(big, { recursive: true, force: true }));
  fs.mkdirSync(path.join(big, 'src'));
  fs.writeFileSync(path.join(big, 'gren.json'), fs.readFileSync(path.join(packageFolder(t, '2.0.0'), 'gren.json')));
  fs.writeFileSync(path.join(big, 'src', 'Example.gren'), (await import('node:crypto')).randomBytes(12 * 1024 * 1024).toString('base64'));
  const tooLarge = await w.run(['publish', big]);
  t.is(tooLarge.code, 1);
  t.regex(tooLarge.stderr, /\[too_large\]/);
});

test('a private package is published from its folder and shown to members only', async (t) => {
  const w = await world(t);
  await logIn(w, 'robin@example.com');
  t.is((await w.run(['identity', 'create', 'gren-lang'])).code, 0);
  t.is((await w.run(['publish', path.join(fixturesDir, 'gren_lang_core__7_0_0.pkg.gz')])).code, 0);
  const folder = packageFolder(t, '1.0.0');
  const outline = JSON.parse(fs.readFileSync(path.join(folder, 'gren.json'), 'utf8'));
  fs.writeFileSync(path.join(folder, 'gren.json'), JSON.stringify({ ...outline, private: true }, null, 4));

  const published = await w.run(['publish', folder]);
  t.is(published.code, 0, published.stderr);
  t.regex(published.stderr, /^Publishing gren-lang\/example 1\.0\.0 \(private\) to /m);
  t.is((await fetch(`${w.reg.url}/index/packages/gren-lang/example/index.json`)).status, 404, 'not in the public index');
  t.is((await w.run(['latest', 'gren-lang/example'])).stdout, '1.0.0\n');
  t.regex((await w.run(['versions', 'gren-lang/example'])).stdout, /^gren-lang\/example\n {2}1\.0\.0 /);

  const stranger = tempDir('gren-home-');
  t.teardown(() => fs.rmSync(stranger, { recursive: true, force: true }));
  const outside = await runClient(['versions', 'gren-lang/example'], { home: stranger, registry: w.reg.url });
  t.is(outside.code, 1);
  t.regex(outside.stderr, /There is no package gren-lang\/example \(log in to see private packages\)\. \[not_found\]/);
  t.regex((await runClient(['latest', 'gren-lang/example'], { home: stranger, registry: w.reg.url })).stderr, /\[not_found\]/);
});
