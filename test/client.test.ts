import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { startRegistryWithMail, readLoginMail, type MailRegistry } from './helpers/accounts.ts';
import { freePort, tempDir } from './helpers/registry.ts';

const cli = path.resolve(import.meta.dirname, '../scripts/gren-registry.ts');

type Run = { code: number | null; stdout: string; stderr: string };

/** The client as a person starts it: its own process, HOME in a temporary folder, stdin left open. */
function startClient(args: string[], options: { home: string; registry?: string; env?: Record<string, string> }) {
  const child = spawn(process.execPath, [cli, ...args], {
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: options.home,
      ...(options.registry ? { GREN_REGISTRY: options.registry } : {}),
      ...options.env,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const done = new Promise<Run>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
  return { child, done, type: (line: string) => child.stdin.write(`${line}\n`), output: () => ({ stdout, stderr }) };
}

/** Runs the client to its end with `input` typed on stdin (then closed). */
function runClient(args: string[], options: { home: string; registry?: string; env?: Record<string, string>; input?: string }): Promise<Run> {
  const started = startClient(args, options);
  started.child.stdin.end(options.input ?? '');
  return started.done;
}

async function eventually(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

type World = { reg: MailRegistry; home: string; run(args: string[], extra?: { input?: string; env?: Record<string, string> }): Promise<Run> };

async function world(t: { teardown(fn: () => unknown): void }): Promise<World> {
  const reg = await startRegistryWithMail();
  t.teardown(() => reg.close());
  const home = tempDir('gren-home-');
  t.teardown(() => fs.rmSync(home, { recursive: true, force: true }));
  return { reg, home, run: (args, extra = {}) => runClient(args, { home, registry: reg.url, ...extra }) };
}

/** Logs in through the client: waits for the mail, types the code at the prompt. */
async function logIn(w: World, email: string): Promise<Run> {
  const client = startClient(['login', email], { home: w.home, registry: w.reg.url });
  const { code } = readLoginMail(await w.reg.smtp.waitForMail(email));
  client.type(code);
  const run = await client.done;
  if (run.code !== 0) throw new Error(`login failed: ${run.stderr}`);
  return run;
}

function userFile(home: string): string {
  return path.join(home, '.gren', 'user');
}

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

test('login asks for the address, and completes when the link is opened while the prompt waits', async (t) => {
  const w = await world(t);
  const client = startClient(['login'], { home: w.home, registry: w.reg.url });
  await eventually(() => client.output().stderr.includes('Email:'), 'the email prompt');
  client.type('kim@example.com');
  const { link } = readLoginMail(await w.reg.smtp.waitForMail('kim@example.com'));
  const page = await fetch(link);
  t.is(page.status, 200);
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
  const names = [...overview.stdout.matchAll(/^ {2}([a-z]+(?: [a-z]+)?)(?= [A-Z[]| {2})/gm)].map((m) => m[1] as string);
  t.true(names.length >= 16, names.join(','));
  for (const name of names) {
    const help = await runClient([...name.split(' '), '--help'], { home });
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
