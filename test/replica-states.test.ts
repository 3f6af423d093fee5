import test from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { bundle } from './helpers/bundle.ts';
import { publisher, published } from './helpers/fixtures.ts';
import { expectError, startRegistryWithMail } from './helpers/accounts.ts';
import { gitClient, gitCmd, remoteRefs } from './helpers/git.ts';
import { tempDir } from './helpers/registry.ts';
import { startReplica, until, type TestReplica } from './helpers/replica.ts';
import { coalesced } from '../gateway/replica/coalesced.ts';
import { packagePaths, type VersionIndex } from '../gateway/packages/version-index.ts';

const versionsOf = async (rep: TestReplica) => {
  const res = await fetch(`${rep.url}/index/packages/acme/lib/index.json`);
  return res.ok ? ((await res.json()) as VersionIndex).versions.map((entry) => entry.version) : [];
};
const status = async (rep: TestReplica, file: string) => (await fetch(`${rep.url}/index/packages/acme/lib/${file}`)).status;
const logged = (rep: TestReplica, event: string, includes = '') => rep.log.lines.some((line) => line.event === event && JSON.stringify(line).includes(includes));

/** The folders below `served` that the link reaches, by name, following every symbolic link. */
async function reachable(link: string): Promise<Set<string>> {
  const found = new Set<string>();
  const walk = async (folder: string): Promise<void> => {
    const real = await fs.realpath(folder);
    if (found.has(path.basename(real))) return;
    found.add(path.basename(real));
    for (const entry of await fs.readdir(real, { withFileTypes: true })) if (entry.isSymbolicLink()) await walk(path.join(real, entry.name));
  };
  await walk(link);
  return found;
}

test('a replica fed from a mirror serves whole, checked states only: a main without its content, a bundle that differs from its entry and a main gone back are not served; old trees go', async (t) => {
  const reg = await startRegistryWithMail();
  t.teardown(() => reg.close());
  const token = await publisher(reg, 'robin@example.com', ['acme']);
  await published(reg.url, token, 'acme/lib', '1.0.0', bundle({ name: 'acme/lib', version: '1.0.0' }));
  const mirror = path.join(tempDir('gren-mirror-'), 'index.git');
  await gitCmd(['clone', '--quiet', '--mirror', `${reg.url}/index.git`, mirror]);
  const mirrorGit = (args: string[]) => gitCmd(['--git-dir', mirror, ...args]);
  const syncMirror = () => mirrorGit(['fetch', '--quiet', '--prune', 'origin', '+refs/*:refs/*']);

  const env = { PRIMARY_URL: reg.url, REPLICA_SOURCE: mirror, REPLICA_INTERVAL_SECONDS: '0.2' };
  let rep = await startReplica(env, { overrides: { graceMs: 300 } });
  t.teardown(() => rep.close());
  await until(async () => (await versionsOf(rep)).includes('1.0.0'), 'the first state');

  // The mirror gets main before the content refs: the replica keeps its state until they come.
  await published(reg.url, token, 'acme/lib', '1.1.0', bundle({ name: 'acme/lib', version: '1.1.0' }));
  await mirrorGit(['fetch', '--quiet', 'origin', '+refs/heads/main:refs/heads/main']);
  await until(() => logged(rep, 'replica_state_incomplete', 'acme/lib 1.1.0 is listed without its content refs'), 'the incomplete state to be refused');
  t.deepEqual(await versionsOf(rep), ['1.0.0']);
  t.is(await status(rep, '1.1.0/gren.json'), 404);
  await syncMirror();
  await until(async () => (await versionsOf(rep)).includes('1.1.0'), '1.1.0');
  t.is(await status(rep, '1.1.0/bundle.pkg.gz'), 200);

  // A bundle that is not the one its index.json entry names is never served.
  // The forged ref is set first and kept out of the fetch, so that no whole state with 1.2.0 is ever there to be served.
  await published(reg.url, token, 'acme/lib', '1.2.0', bundle({ name: 'acme/lib', version: '1.2.0' }));
  const forgedRef = packagePaths('acme/lib').bundleRef('1.2.0');
  await mirrorGit(['update-ref', forgedRef, hashObject(mirror, 'not the bundle')]);
  await mirrorGit(['fetch', '--quiet', 'origin', '+refs/*:refs/*', `^${forgedRef}`]);
  await until(() => logged(rep, 'replica_state_incomplete', "acme/lib 1.2.0's bundle differs"), 'the altered bundle to be refused');
  t.deepEqual(await versionsOf(rep), ['1.0.0', '1.1.0']);
  t.is(await status(rep, '1.2.0/bundle.pkg.gz'), 404);
  await syncMirror();
  await until(async () => (await versionsOf(rep)).includes('1.2.0'), '1.2.0');

  // A source whose main went back (a stale mirror) is not followed back.
  const served = reg.registry.deps.index.head();
  await mirrorGit(['update-ref', 'refs/heads/main', `${served}~2`]);
  await until(() => logged(rep, 'replica_source_behind'), 'the stale source to be noticed');
  t.deepEqual(await versionsOf(rep), ['1.0.0', '1.1.0', '1.2.0']);
  await syncMirror();

  // Old trees are removed once no longer served (after the grace): only the served tree's folders remain.
  const { link, served: folders } = rep.replica.paths;
  await until(async () => {
    const onDisk = (await fs.readdir(folders)).filter((name) => /^[0-9a-f]{40}$/.test(name));
    const live = await reachable(link);
    return onDisk.length === live.size && onDisk.every((name) => live.has(name));
  }, 'old trees to be removed');

  // Restarted on its folder, it serves the same state at once, writing nothing.
  await rep.close();
  rep = await startReplica({ ...env, REPLICA_INTERVAL_SECONDS: '60' }, { dataDir: rep.dataDir });
  const resumed = rep.log.lines.find((line) => line.event === 'replica_resumed');
  t.like(resumed, { commit: served, versions: 3, folders: 0 });
  t.deepEqual(await versionsOf(rep), ['1.0.0', '1.1.0', '1.2.0']);

  // Without WEBHOOK_SECRET, webhooks are refused.
  await expectError(await fetch(`${rep.url}/replica/webhook`, { method: 'POST', body: '{}' }), 403, 'forbidden');
  t.true(logged(rep, 'replica_webhook_refused', 'WEBHOOK_SECRET is unset'));
});

/** Writes a blob into a repository with `git hash-object`; answers its id. */
function hashObject(gitDir: string, text: string): string {
  return execFileSync('git', ['--git-dir', gitDir, 'hash-object', '-w', '--stdin'], { input: text }).toString().trim();
}

test('syncs run one at a time: a call while one runs queues one more, and later calls join it', async (t) => {
  let running = 0;
  let most = 0;
  let runs = 0;
  const release: Array<() => void> = [];
  const sync = coalesced(async () => {
    runs++;
    most = Math.max(most, ++running);
    await new Promise<void>((resolve) => release.push(resolve));
    running--;
  });
  const first = sync();
  const queued = [sync(), sync(), sync()];
  t.is(runs, 1);
  t.is(queued[0], queued[1]);
  release.shift()?.();
  await first;
  await until(() => release.length === 1, 'the queued run');
  t.is(runs, 2);
  release.shift()?.();
  await Promise.all(queued);
  t.is(most, 1);
  t.is(runs, 2);
  const after = sync();
  await until(() => release.length === 1, 'a new run');
  release.shift()?.();
  await after;
  t.is(runs, 3);
});

test("Git on a replica: the index whole, a package's tags, the compiler's view from the replica's own index.json, and no private package", async (t) => {
  const reg = await startRegistryWithMail();
  t.teardown(() => reg.close());
  const token = await publisher(reg, 'robin@example.com', ['acme']);
  await published(reg.url, token, 'acme/lib', '1.0.0', bundle({ name: 'acme/lib', version: '1.0.0', gren: '0.6.0 <= v < 0.7.0' }));
  await published(reg.url, token, 'acme/lib', '2.0.0', bundle({ name: 'acme/lib', version: '2.0.0', gren: '0.7.0 <= v < 0.8.0' }));
  await published(reg.url, token, 'acme/secret', '1.0.0', bundle({ name: 'acme/secret', version: '1.0.0', private: true }));
  const rep = await startReplica({ PRIMARY_URL: reg.url, REPLICA_INTERVAL_SECONDS: '60' });
  t.teardown(() => rep.close());
  await until(async () => (await versionsOf(rep)).length === 2, 'the first state');

  const tags = async (base: string) => [...remoteRefs(await gitCmd(['ls-remote', '--tags', base])).keys()].sort();
  t.deepEqual(await tags(`${rep.url}/git/acme/lib.git`), await tags(`${reg.url}/git/acme/lib.git`));
  t.deepEqual(await tags(`${rep.url}/git/gren-0.6.3/acme/lib.git`), ['refs/tags/1.0.0']);
  t.deepEqual(await tags(`${rep.url}/git/gren-0.7.1/ACME/Lib.git`), ['refs/tags/2.0.0']);
  const work = tempDir('gren-replica-clone-');
  await gitCmd(['clone', '--quiet', '--depth', '1', '--branch', '1.0.0', `${rep.url}/git/acme/lib.git`, path.join(work, 'lib')]);
  t.true((await fs.readFile(path.join(work, 'lib', 'gren.json'), 'utf8')).includes('"acme/lib"'));
  // The index whole, as a mirror takes it: the primary's refs, nothing of what a fetch brought unchecked.
  t.deepEqual(remoteRefs(await gitCmd(['ls-remote', `${rep.url}/index.git`])), remoteRefs(await gitCmd(['ls-remote', `${reg.url}/index.git`])));
  // Private packages never reach the public index, so a replica knows nothing of them.
  const secret = await gitClient(['ls-remote', `${rep.url}/git/acme/secret.git`]);
  t.not(secret.code, 0);
  t.regex(secret.stderr, /not found/);
  t.is((await fetch(`${rep.url}/git/acme/secret.git/info/refs?service=git-upload-pack`)).status, 404);
});
