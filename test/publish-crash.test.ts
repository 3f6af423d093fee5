import test from 'ava';
import crypto from 'node:crypto';
import path from 'node:path';
import { bundle } from './helpers/bundle.ts';
import { publisher, putBundle, revokeCall } from './helpers/fixtures.ts';
import { packagePaths } from '../gateway/packages/version-index.ts';
import { blobId } from '../index-repo/git-object.ts';
import { expectJson, startRegistryWithMail } from './helpers/accounts.ts';
import { tempDir } from './helpers/registry.ts';
import { runScript, startRegistryProcess, type RegistryProcess } from './helpers/process.ts';
import { fsck, gitCmd } from './helpers/git.ts';
import { startReceiver, type Received } from './helpers/receiver.ts';

const secret = 'crash test secret';

/** An acknowledged publish; `revoked` when its revoke was acknowledged, `revoking` when one was sent (it may have committed unanswered). */
type Ack = { name: string; version: string; sha256: string; commit: string; bytes: Buffer; revoking?: boolean; revoked?: boolean };

/**
 * Four clients publish versions of their own package (and of one shared package) as fast as
 * they can, and every fourth one revokes the version it published before, until the process is
 * killed after `killAfter` acknowledgements.
 */
async function publishUntilKilled(child: RegistryProcess, token: string, round: number, killAfter: number): Promise<Ack[]> {
  const acks: Ack[] = [];
  let killed: Promise<void> | null = null;
  const client = async (id: number) => {
    let last: Ack | null = null;
    for (let i = 0; ; i++) {
      const name = i % 3 === 0 ? 'crash/shared' : `crash/client-${id}`;
      const version = `${round}.${id}.${i}`;
      const bytes = bundle({ name, version, padding: 20_000 });
      let res: Response;
      try {
        if (id % 2 === 1 && i % 4 === 3 && last) {
          last.revoking = true;
          const revoked = await revokeCall(child.url, token, last.name, last.version, 'crash test');
          if (revoked.status !== 200) throw new Error(`revoke ${last.name} ${last.version}: ${revoked.status} ${await revoked.text()}`);
          last.revoked = true;
        }
        res = await putBundle(child.url, token, name, version, bytes);
      } catch (err) {
        if ((err as Error).message.startsWith('revoke ')) throw err;
        return; // The process is gone.
      }
      if (res.status !== 201) throw new Error(`publish ${name} ${version}: ${res.status} ${await res.text()}`);
      const answer = (await res.json()) as Ack;
      last = { name, version, sha256: answer.sha256, commit: answer.commit, bytes };
      acks.push(last);
      // Killed a moment later, at a random point of the publishes in flight.
      if (acks.length >= killAfter) killed ??= new Promise((resolve) => setTimeout(resolve, Math.random() * 80)).then(async () => {
        await child.stop('SIGKILL');
      });
    }
  };
  await Promise.all([0, 1, 2, 3].map(client));
  await killed;
  return acks;
}

/**
 * Every package of a repository, checked whole against its content refs: each unrevoked version
 * in index.json has its gren.json, bundle ref and tag; a revoked one has gren.json and no ref;
 * each version folder is in index.json; no content ref is ahead of index.json or behind it.
 */
async function checkWhole(files: string[], refs: string[], readIndex: (name: string) => Promise<{ versions: Array<{ version: string; revoked: unknown }> }>) {
  const problems: string[] = [];
  const packages = new Set(files.filter((f) => f.startsWith('packages/')).map((f) => f.split('/').slice(1, 3).join('/')));
  const expectedRefs = new Set<string>();
  for (const name of packages) {
    const index = await readIndex(name);
    const listed = new Set(index.versions.map((e) => e.version));
    const folders = new Set(files.filter((f) => f.startsWith(`packages/${name}/`) && f.split('/').length === 5).map((f) => f.split('/')[3] as string));
    for (const { version, revoked } of index.versions) {
      if (!files.includes(packagePaths(name).outline(version))) problems.push(`${name} ${version} lacks gren.json`);
      if (revoked) continue;
      expectedRefs.add(packagePaths(name).bundleRef(version)).add(packagePaths(name).tagRef(version));
    }
    for (const version of folders) if (!listed.has(version)) problems.push(`${name} ${version} has files but no index entry`);
  }
  for (const ref of expectedRefs) if (!refs.includes(ref)) problems.push(`${ref} is missing (behind main)`);
  for (const ref of refs) if (!expectedRefs.has(ref)) problems.push(`${ref} is not an unrevoked version of main (ahead of main, or left by a revoke)`);
  return { problems, packages };
}

test('a registry killed with SIGKILL amid concurrent publishes and revokes keeps every acknowledged change, whole, and owes their notifications', async (t) => {
  const dataDir = tempDir();
  const setup = await startRegistryWithMail({ dataDir });
  const token = await publisher(setup, 'ci@example.com', ['crash']);
  await setup.close();

  const receiver = await startReceiver();
  t.teardown(() => receiver.close());
  receiver.answer = () => 503;
  // Publishing as fast as it can, rounds after rounds: far past the publish limit's burst.
  const env = { REGISTRY_DATA: dataDir, WEBHOOK_URLS: `${receiver.url}/hook`, WEBHOOK_SECRET: secret, PUBLISH_BURST: '100000' };
  const children: RegistryProcess[] = [];
  t.teardown(async () => {
    for (const child of children) await child.stop('SIGKILL');
  });

  const acks: Ack[] = [];
  for (const [round, killAfter] of [[1, 25], [2, 40]] as const) {
    const child = await startRegistryProcess(env);
    children.push(child);
    acks.push(...(await publishUntilKilled(child, token, round, killAfter)));
    t.not(child.process.signalCode, null, 'killed by a signal, not stopped');
  }
  t.true(acks.length >= 65);

  receiver.answer = () => 200;
  const after = await startRegistryProcess(env);
  children.push(after);

  // Every acknowledged publish is there, with the bytes it answered for, in the commit it named;
  // every acknowledged revoke too, its bundle in no object of the repository.
  const gitDir = path.join(dataDir, 'index.git');
  const objects = await gitCmd(['--git-dir', gitDir, 'cat-file', '--batch-all-objects', '--batch-check=%(objectname)']);
  t.true(acks.some((ack) => ack.revoked));
  for (const ack of acks) {
    const index = await expectJson(await fetch(`${after.url}/index/packages/${ack.name}/index.json`), 200);
    const entry = index.versions.find((e: { version: string }) => e.version === ack.version);
    t.is(entry?.sha256, ack.sha256, `${ack.name} ${ack.version}`);
    t.is((await gitCmd(['--git-dir', gitDir, 'log', '-1', '--format=%s', ack.commit])).trim(), `Publish ${ack.name} ${ack.version}`);
    const served = await fetch(`${after.url}/index/packages/${ack.name}/${ack.version}/bundle.pkg.gz`);
    if (ack.revoked) t.truthy(entry?.revoked, `${ack.name} ${ack.version} was revoked`);
    if (entry?.revoked) {
      t.true(ack.revoking, `${ack.name} ${ack.version}: revoked only when asked`);
      t.is(served.status, 404);
      t.false(objects.includes(blobId(ack.bytes)), `${ack.name} ${ack.version}: the revoked bundle is gone`);
    } else {
      t.is(crypto.createHash('sha256').update(Buffer.from(await served.arrayBuffer())).digest('hex'), ack.sha256);
    }
  }

  // None is half there: in main and its content refs, in the served folder, and in a fresh clone that passes fsck.
  const tree = (await gitCmd(['--git-dir', gitDir, 'ls-tree', '-r', '--name-only', 'main'])).trim().split('\n');
  const refs = (await gitCmd(['--git-dir', gitDir, 'for-each-ref', '--format=%(refname)', 'refs/namespaces/'])).trim().split('\n');
  const inMain = await checkWhole(tree, refs, async (name) => JSON.parse(await gitCmd(['--git-dir', gitDir, 'show', `main:packages/${name}/index.json`])));
  t.deepEqual(inMain.problems, []);
  t.true(inMain.packages.size >= 5);
  const clone = path.join(tempDir(), 'index');
  await gitCmd(['clone', '--quiet', `${after.url}/index.git`, clone]);
  await fsck(path.join(clone, '.git'));
  const cloned = (await gitCmd(['-C', clone, 'ls-files'])).trim().split('\n');
  t.deepEqual(cloned, tree);
  const served = await checkWhole(tree, refs, async (name) => expectJson(await fetch(`${after.url}/index/packages/${name}/index.json`), 200));
  t.deepEqual(served.problems, []);
  const verify = await runScript('verify.ts', ['--data', dataDir]);
  t.is(verify.code, 0, verify.stdout + verify.stderr);
  const subjects = (await gitCmd(['--git-dir', gitDir, 'log', '--format=%s', 'main'])).trim().split('\n').filter((s) => s.startsWith('Publish '));
  t.log(`${acks.length} publishes acknowledged, ${subjects.length} committed before the kills`);
  t.is(new Set(subjects).size, subjects.length, `no publish committed twice: ${subjects.filter((s, i) => subjects.indexOf(s) !== i).join(', ')}`);

  // The registry still publishes.
  const next = await putBundle(after.url, token, 'crash/shared', '9.0.0', bundle({ name: 'crash/shared', version: '9.0.0' }));
  t.is(next.status, 201);
  // Every publish committed before the kills is told, acknowledged or not (at least once: some twice).
  const told = () => new Set(receiver.received.filter((r: Received) => r.status === 200).map((r) => JSON.parse(r.body).version as string));
  const deadline = Date.now() + 20_000;
  while (told().size < subjects.length + 1 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  t.is(told().size, subjects.length + 1);
  t.deepEqual(acks.filter((a) => !told().has(a.version)), []);
});
