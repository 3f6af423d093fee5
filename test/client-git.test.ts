import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { credentialsStore } from '../scripts/client/credentials.ts';
import { bundle, fixtureContent, type BundleContent } from './helpers/bundle.ts';
import { runClient, clientScript, type Run } from './helpers/client.ts';
import { putBundle } from './helpers/fixtures.ts';
import { shellQuote } from '../scripts/client/shell-quote.ts';
import { createIdentity, loggedIn, startRegistryWithMail } from './helpers/accounts.ts';
import { startGitHttpBackend, type GitHttpBackend } from './helpers/git-http-backend.ts';
import { bundleFileName, exampleApplication, grenProject, packageOutline, thingSource, type GrenProject } from './helpers/gren.ts';
import { packageRepositories } from './helpers/package-repos.ts';
import { tempDir } from './helpers/registry.ts';

/*
 * Today's gren, pointed at the registry by the client: `gren-registry exec` for one command,
 * `gren-registry git-config` for good, and `gren-registry git-credential` lending git the
 * login. The registry's package repositories are played here by `git http-backend` over bare
 * repositories (test/helpers/git-http-backend.ts).
 */

const sh = promisify(execFile);
type Teardown = { teardown(fn: () => unknown): void };


const core = ['7.0.0', '7.2.0', '7.4.0'].map((v) => fixtureContent('gren-lang/core', v));
const appDependencies = [fixtureContent('gren-lang/core', '7.4.0'), fixtureContent('gren-lang/node', '6.1.1'), fixtureContent('gren-lang/url', '6.0.0')];
/** A core 8.0.0 for a compiler that does not exist yet: what the compiler-aware view hides from 0.6.3. */
const futureCore: BundleContent = { ...core[2]!, outline: { ...core[2]!.outline, version: '8.0.0', 'gren-version': '0.7.0 <= v < 0.8.0' } };

function folder(t: Teardown, prefix: string): string {
  const dir = tempDir(prefix);
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The stand-in registry: every version in the plain view, only those 0.6.3 accepts in its view. */
async function packageServer(t: Teardown, options: { token?: string } = {}): Promise<GitHttpBackend> {
  const [plain, forCompiler] = [folder(t, 'gren-plain-'), folder(t, 'gren-view-')];
  await packageRepositories(plain, [...core, futureCore, ...appDependencies.slice(1)]);
  await packageRepositories(forCompiler, [...core, ...appDependencies.slice(1)]);
  const server = await startGitHttpBackend({ views: { '': plain, 'gren-0.6.3': forCompiler }, ...options });
  t.teardown(() => server.close());
  return server;
}

function newToken(): string {
  return `grs_${crypto.randomBytes(16).toString('hex')}`;
}

function logInAs(home: string, registry: string, email: string): string {
  const sessionToken = newToken();
  credentialsStore({ home }).set(registry, { email, sessionToken });
  return sessionToken;
}

/** Runs the client in a project's environment (its PATH finds the project's gren). */
function client(project: GrenProject, args: string[], env: Record<string, string> = {}, input?: string): Promise<Run> {
  return runClient(args, { home: project.home, env: { ...project.env, ...env }, cwd: project.dir, ...(input === undefined ? {} : { input }) });
}

/** PATH without any folder holding a gren. */
function pathWithoutGren(): string {
  return (process.env['PATH'] ?? '').split(path.delimiter).filter((dir) => dir !== '' && !fs.existsSync(path.join(dir, 'gren'))).join(path.delimiter);
}

/** Where git sends a GitHub URL after the url.<base>.insteadOf rewrites in effect. */
const rewritten = (url: string) => ['git', 'ls-remote', '--get-url', url];

test('exec: gren make fetches every dependency from the view of the compiler gren --version reports', async (t) => {
  const server = await packageServer(t);
  const project = exampleApplication(t);
  const run = await project.run(['make', 'Main'], { via: [process.execPath, clientScript, 'exec', '--registry', server.url, '--'] });
  t.is(run.code, 0, run.stdout + run.stderr);
  for (const content of appDependencies) {
    t.deepEqual(run.bundles.get(bundleFileName(content.outline.name, content.outline.version)), content, content.outline.name);
  }
  t.is(run.backend?.command, 'make');
  const paths = new Set(server.requests.map((r) => r.path.replace(/\.git\/.*$/, '')));
  t.deepEqual([...paths].sort(), ['/git/gren-0.6.3/gren-lang/core', '/git/gren-0.6.3/gren-lang/node', '/git/gren-0.6.3/gren-lang/url']);
  t.true(server.requests.every((r) => r.authorization === null), 'not logged in: no credentials sent');
  t.is(fs.readFileSync(project.gitConfig, 'utf8'), '', 'no git config file was written');
});

test('exec: gren package install NAME gets the latest version for the compiler, not the highest', async (t) => {
  const server = await packageServer(t);
  const project = grenProject(t, { 'gren.json': packageOutline(), 'src/Thing.gren': thingSource });
  const run = await project.run(['package', 'install', 'gren-lang/core'], { via: [process.execPath, clientScript, 'exec', '--registry', server.url, '--'] });
  t.is(run.code, 0, run.stdout + run.stderr);
  t.deepEqual(project.outline().dependencies, { 'gren-lang/core': '7.4.0 <= v < 8.0.0' });
  t.deepEqual(run.bundles.get(bundleFileName('gren-lang/core', '7.4.0')), core[2]);

  const plain = await client(project, ['exec', '--registry', server.url, '--', ...rewritten('https://github.com/gren-lang/core.git')], { PATH: pathWithoutGren() });
  t.is(plain.stdout, `${server.url}/git/gren-lang/core.git\n`, 'without gren on the PATH, the plain view');
  t.regex(plain.stderr, /^Note: gren was not found on the PATH, so packages come from http:\/\/127\.0\.0\.1:\d+\/git\/, which offers every version/);
  const pinned = await client(project, ['exec', '--registry', server.url, '--gren-version', '0.6.1', '--', ...rewritten('https://github.com/robin/x.git')]);
  t.is(pinned.stdout, `${server.url}/git/gren-0.6.1/robin/x.git\n`);
  const bad = await client(project, ['exec', '--gren-version', '6', '--', 'true']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /"6" is not a compiler version: expected MAJOR\.MINOR\.PATCH.* \[usage\]/);
});

test("exec: a private package installs with the login's token, sent in the command's environment only", async (t) => {
  const token = newToken();
  const server = await packageServer(t, { token });
  const project = exampleApplication(t);
  const via = [process.execPath, clientScript, 'exec', '--registry', server.url, '--'];

  const anonymous = await project.run(['make', 'Main'], { via });
  t.not(anonymous.code, 0, 'no credentials: git is answered 401 and may not prompt');
  t.is(anonymous.bundles.size, 0);

  credentialsStore({ home: project.home }).set(server.url, { email: 'robin@example.com', sessionToken: token });
  const member = await project.run(['make', 'Main'], { via });
  t.is(member.code, 0, member.stdout + member.stderr);
  t.deepEqual([...member.bundles.values()], appDependencies);
  t.true(server.requests.some((r) => r.authorization === `Bearer ${token}`));
  t.false(`${member.stdout}${member.stderr}${anonymous.stdout}${anonymous.stderr}`.includes(token), 'the token is in no output');

  // The command prints its own command line, its parent's (gren-registry's), and which variables hold a Bearer header.
  const probe = `const parent = require('node:fs').readFileSync('/proc/' + process.ppid + '/cmdline', 'utf8');
    console.log(JSON.stringify({ argv: process.argv, parent, holders: Object.keys(process.env).filter((k) => process.env[k].includes('Bearer')) }));`;
  const seen = await client(project, ['exec', '--registry', server.url, '--', process.execPath, '-e', probe]);
  t.is(seen.code, 0, seen.stderr);
  const { argv, parent, holders } = JSON.parse(seen.stdout) as { argv: string[]; parent: string; holders: string[] };
  t.regex(parent, /gren-registry\.ts\0exec\0/, 'the parent is gren-registry');
  t.false(argv.join(' ').includes(token) || parent.includes(token), 'neither command line holds the token');
  t.deepEqual(holders, ['GIT_CONFIG_VALUE_1']);
  t.false(seen.stderr.includes(token));

  const fromEnvironment = await client(project, ['exec', '--registry', 'http://127.0.0.1:9', '--', ...rewritten('https://github.com/a/b.git')], { GREN_REGISTRY_TOKEN: 'grt_from_env' });
  t.false(fromEnvironment.stdout.includes('grt_from_env') || fromEnvironment.stderr.includes('grt_from_env'));
});

test('exec: appends its settings after the caller\'s, passes the exit code through, and leaves the command its own options', async (t) => {
  const project = exampleApplication(t);
  const token = logInAs(project.home, 'http://127.0.0.1:9', 'robin@example.com');
  const caller = { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'user.name', GIT_CONFIG_VALUE_0: 'Robin' };
  const listed = await client(project, ['exec', '--registry', 'http://127.0.0.1:9', '--', 'git', 'config', '--list', '--show-origin'], caller);
  t.is(listed.code, 0, listed.stderr);
  const fromEnvironment = listed.stdout.split('\n').filter((line) => line.startsWith('command line:'));
  t.deepEqual(fromEnvironment, [
    'command line:\tuser.name=Robin',
    'command line:\turl.http://127.0.0.1:9/git/gren-0.6.3/.insteadof=https://github.com/',
    `command line:\thttp.http://127.0.0.1:9/.extraheader=Authorization: Bearer ${token}`,
  ]);

  fs.writeFileSync(project.gitConfig, '[url "git@github.com:"]\n\tinsteadOf = https://github.com/\n');
  const overSsh = await client(project, ['exec', '--registry', 'http://127.0.0.1:9', '--', ...rewritten('https://github.com/gren-lang/core.git')]);
  t.is(overSsh.stdout, 'http://127.0.0.1:9/git/gren-0.6.3/gren-lang/core.git\n', "exec wins over the user's own rewrite of GitHub URLs");

  t.is((await client(project, ['exec', '--', 'sh', '-c', 'exit 7'])).code, 7);
  t.is((await client(project, ['exec', '--', 'sh', '-c', 'kill -TERM $$'])).code, 128 + 15);
  const own = await client(project, ['exec', 'sh', '-c', 'echo "$@"', 'sh', '--json', '--registry', 'x']);
  t.is(own.stdout, '--json --registry x\n', 'options after the command are the command\'s');

  const missing = await client(project, ['exec', '--', 'no-such-command-here']);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /^Error: no-such-command-here was not found on the PATH\. \[command_not_found\]$/m);
  const bogus = await client(project, ['exec', '--', 'true'], { GIT_CONFIG_COUNT: 'two' });
  t.is(bogus.code, 1);
  t.regex(bogus.stderr, /GIT_CONFIG_COUNT is "two", which git would refuse.* \[invalid_environment\]/);
  const nothing = await client(project, ['exec']);
  t.is(nothing.code, 2);
  t.regex(nothing.stderr, /needs the command to run, after --\. \[usage\]/);
});

test('git-config: lines a shell runs for good, one per identity, the token kept out of every file; gren then installs private packages', async (t) => {
  const token = newToken();
  const server = await packageServer(t, { token });
  const project = exampleApplication(t);
  const config = await client(project, ['git-config', 'gren-lang', 'blaix', '--registry', server.url]);
  t.is(config.code, 0, config.stderr);
  const lines = config.stdout.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
  const helper = `!${[process.execPath, clientScript].map(shellQuote).join(' ')} git-credential --registry ${server.url}`;
  t.deepEqual(lines, [
    `git config --global --replace-all url.${server.url}/git/gren-lang/.insteadOf https://github.com/gren-lang/`,
    `git config --global --replace-all url.${server.url}/git/blaix/.insteadOf https://github.com/blaix/`,
    `git config --global --replace-all credential.${server.url}.helper ''`,
    `git config --global --add credential.${server.url}.helper ${shellQuote(helper)}`,
  ]);

  await sh('sh', ['-c', config.stdout], { env: project.env });
  await sh('sh', ['-c', config.stdout], { env: project.env });
  const git = async (args: string[], input?: string) => {
    const child = sh('git', args, { env: project.env });
    if (input !== undefined) child.child.stdin?.end(input);
    return (await child).stdout;
  };
  t.is(await git(rewritten('https://github.com/gren-lang/core.git').slice(1)), `${server.url}/git/gren-lang/core.git\n`);
  t.is(await git(rewritten('https://github.com/elm/core.git').slice(1)), 'https://github.com/elm/core.git\n', 'other GitHub repositories stay on GitHub');
  t.deepEqual((await git(['config', '--global', '--get-all', `credential.${server.url}.helper`])).split('\n'), ['', helper, ''], 'running the lines twice adds nothing');

  const once = await client(project, ['exec', '--registry', server.url, '--', ...rewritten('https://github.com/gren-lang/core.git')]);
  t.is(once.stdout, `${server.url}/git/gren-0.6.3/gren-lang/core.git\n`, 'exec still takes the compiler\'s view over the permanent setting');

  const anonymous = await project.run(['make', 'Main']);
  t.not(anonymous.code, 0, 'not logged in: the helper answers nothing and git may not prompt');
  credentialsStore({ home: project.home }).set(server.url, { email: 'robin@example.com', sessionToken: token });
  const member = await project.run(['make', 'Main']);
  t.is(member.code, 0, member.stdout + member.stderr);
  t.deepEqual([...member.bundles.values()], appDependencies);
  const basic = `Basic ${Buffer.from(`robin@example.com:${token}`).toString('base64')}`;
  t.true(server.requests.some((r) => r.authorization === basic), 'git sent the token as HTTP Basic, from the helper');
  t.true(server.requests.every((r) => /^\/git\/gren-lang\//.test(r.path)), 'the plain view: the settings outlive any one compiler');

  t.false(fs.readFileSync(project.gitConfig, 'utf8').includes(token), 'no token in the git config file');
  t.false(fs.existsSync(path.join(project.home, '.git-credentials')));
  t.regex(await git(['credential', 'fill'], `url=${server.url}/git/gren-lang/core.git\n\n`), new RegExp(`^password=${token}$`, 'm'));
});

test('git-config: by default every identity the registry lists packages of, and the user\'s own', async (t) => {
  const reg = await startRegistryWithMail();
  t.teardown(() => reg.close());
  const home = folder(t, 'gren-home-');
  const run = (args: string[]) => runClient(args, { home, registry: reg.url });
  const empty = await run(['git-config']);
  t.is(empty.code, 1);
  t.regex(empty.stderr, /lists no package yet, and you are a member of no publishing identity there\. \[no_identities\]\nName the identities/);

  const robin = await loggedIn(reg, 'robin@example.com');
  for (const identity of ['robin', 'gren-lang']) await createIdentity(reg, robin, identity);
  t.is((await putBundle(reg.url, robin, 'gren-lang/example', '1.0.0', bundle({ name: 'gren-lang/example', version: '1.0.0' }))).status, 201);
  const kim = await loggedIn(reg, 'kim@example.com');
  for (const identity of ['blaix', 'hidden']) await createIdentity(reg, kim, identity);
  t.is((await putBundle(reg.url, kim, 'blaix/thing', '1.0.0', bundle({ name: 'blaix/thing', version: '1.0.0' }))).status, 201);
  t.is((await putBundle(reg.url, kim, 'hidden/thing', '1.0.0', bundle({ name: 'hidden/thing', version: '1.0.0', private: true }))).status, 201);

  const anonymous = JSON.parse((await run(['git-config', '--json'])).stdout);
  t.deepEqual(anonymous.identities, ['blaix', 'gren-lang']);
  credentialsStore({ home }).set(reg.url, { email: 'robin@example.com', sessionToken: robin });
  const mine = JSON.parse((await run(['git-config', '--json'])).stdout);
  t.deepEqual(mine.identities, ['blaix', 'gren-lang', 'robin']);
  t.is(mine.base, `${reg.url}/git/`);
  t.is(mine.commands.length, 5);
  t.false(JSON.stringify(mine).includes(robin), 'the token is in no line');
  const pinned = JSON.parse((await run(['git-config', 'blaix', '--gren-version', '0.6.3', '--json'])).stdout);
  t.deepEqual(pinned.commands[0], `git config --global --replace-all url.${reg.url}/git/gren-0.6.3/blaix/.insteadOf https://github.com/blaix/`);
  const bad = await run(['git-config', 'not/an-identity']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /"not\/an-identity" is not a publishing identity.* \[usage\]/);
});

test('git-credential: answers get for the registry only, from the saved login or GREN_REGISTRY_TOKEN; store and erase change nothing', async (t) => {
  const home = folder(t, 'gren-home-');
  const registry = 'https://registry.example.com/gren';
  const token = logInAs(home, registry, 'robin@example.com');
  const helper = (action: string, input: string, env: Record<string, string> = {}) => runClient(['git-credential', '--registry', registry, action], { home, env, input });
  const get = await helper('get', 'protocol=https\nhost=registry.example.com\n\n');
  t.is(get.code, 0, get.stderr);
  t.is(get.stdout, `username=robin@example.com\npassword=${token}\n`);
  t.is((await helper('get', 'protocol=https\nhost=registry.example.com\npath=gren/git/a/b.git\n\n')).stdout, `username=robin@example.com\npassword=${token}\n`);
  for (const elsewhere of ['protocol=https\nhost=github.com\n', 'protocol=http\nhost=registry.example.com\n', 'protocol=https\nhost=registry.example.com:8443\n', 'protocol=https\nhost=registry.example.com\npath=other/a.git\n', 'host=registry.example.com\n']) {
    const answer = await helper('get', `${elsewhere}\n`);
    t.deepEqual([answer.code, answer.stdout], [0, ''], elsewhere);
  }
  const before = fs.readFileSync(path.join(home, '.gren', 'user'), 'utf8');
  for (const action of ['store', 'erase', 'frobnicate']) {
    const answer = await helper(action, `protocol=https\nhost=registry.example.com\nusername=x\npassword=${token}\n\n`);
    t.deepEqual([answer.code, answer.stdout, answer.stderr], [0, '', ''], action);
  }
  t.is(fs.readFileSync(path.join(home, '.gren', 'user'), 'utf8'), before, 'the saved login is untouched');
  const fromEnvironment = await helper('get', 'protocol=https\nhost=registry.example.com\n\n', { GREN_REGISTRY_TOKEN: 'grt_ci' });
  t.is(fromEnvironment.stdout, 'username=token\npassword=grt_ci\n');
});
