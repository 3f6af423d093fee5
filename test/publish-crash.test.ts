import test from 'ava';
import crypto from 'node:crypto';
import path from 'node:path';
import { bundle } from './helpers/bundle.ts';
import { publisher, putBundle } from './helpers/fixtures.ts';
import { expectJson, startRegistryWithMail } from './helpers/accounts.ts';
import { tempDir } from './helpers/registry.ts';
import { startRegistryProcess, type RegistryProcess } from './helpers/process.ts';
import { fsck, gitCmd } from './helpers/git.ts';
import { startReceiver, type Received } from './helpers/receiver.ts';

const secret = 'crash test secret';

type Ack = { name: string; version: string; sha256: string; commit: string };

/**
 * Four clients publish versions of their own package (and of one shared package) as fast as
 * they can, until the process is killed after `killAfter` acknowledgements.
 */
async function publishUntilKilled(child: RegistryProcess, token: string, round: number, killAfter: number): Promise<Ack[]> {
  const acks: Ack[] = [];
  let killed: Promise<void> | null = null;
  const client = async (id: number) => {
    for (let i = 0; ; i++) {
      const name = i % 3 === 0 ? 'crash/shared' : `crash/client-${id}`;
      const version = `${round}.${id}.${i}`;
      const bytes = bundle({ name, version, padding: 20_000 });
      let res: Response;
      try {
        res = await putBundle(child.url, token, name, version, bytes);
      } catch {
        return; // The process is gone.
      }
      if (res.status !== 201) throw new Error(`publish ${name} ${version}: ${res.status} ${await res.text()}`);
      const answer = (await res.json()) as Ack;
      acks.push({ name, version, sha256: answer.sha256, commit: answer.commit });
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

/** Every package of a tree, checked whole: each version in index.json has its files, and each version folder is in index.json. */
async function checkWhole(files: string[], readIndex: (name: string) => Promise<{ versions: Array<{ version: string; sha256: string }> }>) {
  const problems: string[] = [];
  const packages = new Set(files.filter((f) => f.startsWith('packages/')).map((f) => f.split('/').slice(1, 3).join('/')));
  for (const name of packages) {
    const index = await readIndex(name);
    const listed = new Set(index.versions.map((e) => e.version));
    const folders = new Set(files.filter((f) => f.startsWith(`packages/${name}/`) && f.split('/').length === 5).map((f) => f.split('/')[3] as string));
    for (const version of listed) {
      for (const file of ['gren.json', 'bundle.pkg.gz']) if (!files.includes(`packages/${name}/${version}/${file}`)) problems.push(`${name} ${version} lacks ${file}`);
    }
    for (const version of folders) if (!listed.has(version)) problems.push(`${name} ${version} has files but no index entry`);
  }
  return { problems, packages };
}

test('a registry killed with SIGKILL amid concurrent publishes keeps every acknowledged publish, whole, and owes their notifications', async (t) => {
  const dataDir = tempDir();
  const setup = await startRegistryWithMail({ dataDir });
  const token = await publisher(setup, 'ci@example.com', ['crash']);
  await setup.close();

  const receiver = await startReceiver();
  t.teardown(() => receiver.close());
  receiver.answer = () => 503;
  const env = { REGISTRY_DATA: dataDir, WEBHOOK_URLS: `${receiver.url}/hook`, WEBHOOK_SECRET: secret };
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

  // Every acknowledged publish is there, with the bytes it answered for, in the commit it named.
  const gitDir = path.join(dataDir, 'index.git');
  for (const ack of acks) {
    const index = await expectJson(await fetch(`${after.url}/index/packages/${ack.name}/index.json`), 200);
    t.is(index.versions.find((e: { version: string }) => e.version === ack.version)?.sha256, ack.sha256, `${ack.name} ${ack.version}`);
    const served = Buffer.from(await (await fetch(`${after.url}/index/packages/${ack.name}/${ack.version}/bundle.pkg.gz`)).arrayBuffer());
    t.is(crypto.createHash('sha256').update(served).digest('hex'), ack.sha256);
    t.is((await gitCmd(['--git-dir', gitDir, 'log', '-1', '--format=%s', ack.commit])).trim(), `Publish ${ack.name} ${ack.version}`);
  }

  // None is half there: in main, in the served folder, and in a fresh clone that passes fsck.
  const tree = (await gitCmd(['--git-dir', gitDir, 'ls-tree', '-r', '--name-only', 'main'])).trim().split('\n');
  const inMain = await checkWhole(tree, async (name) => JSON.parse(await gitCmd(['--git-dir', gitDir, 'show', `main:packages/${name}/index.json`])));
  t.deepEqual(inMain.problems, []);
  t.true(inMain.packages.size >= 5);
  const clone = path.join(tempDir(), 'index');
  await gitCmd(['clone', '--quiet', `${after.url}/index.git`, clone]);
  await fsck(path.join(clone, '.git'));
  const cloned = (await gitCmd(['-C', clone, 'ls-files'])).trim().split('\n');
  t.deepEqual(cloned, tree);
  const served = await checkWhole(tree, async (name) => expectJson(await fetch(`${after.url}/index/packages/${name}/index.json`), 200));
  t.deepEqual(served.problems, []);
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
