import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { openIndexRepo, type LocalIndexRepo } from '../index-repo/open-index-repo.ts';
import { memoryLogger } from '../gateway/log.ts';
import { RepositoryInUseError } from '../index-repo/process-lock.ts';
import { tempDir } from './helpers/registry.ts';
import { folderFiles, fsck, history, lsTree } from './helpers/git.ts';
import type { Snapshot } from '../index-repo/types.ts';

const clock = { now: () => new Date('2026-11-21T10:00:00Z') };

async function openRepo(dir: string, options: { packEvery?: number; packQuietMs?: number; log?: ReturnType<typeof memoryLogger> } = {}): Promise<LocalIndexRepo> {
  return openIndexRepo({
    gitDir: path.join(dir, 'index.git'),
    servedDir: path.join(dir, 'index'),
    clock,
    log: options.log ?? memoryLogger(),
    name: 'public',
    required: { 'config.json': Buffer.from('{"protocol": 1}\n') },
    packEvery: options.packEvery ?? 0,
    ...(options.packQuietMs !== undefined ? { packQuietMs: options.packQuietMs } : {}),
  });
}

const publish = (repo: LocalIndexRepo, author: string, version: string) =>
  repo.update(() => ({
    message: `Publish ${author}/pkg ${version}`,
    changes: [
      { path: `packages/${author}/pkg/${version}/bundle.pkg.gz`, content: Buffer.from(`bundle ${author} ${version}`) },
      { path: `packages/${author}/pkg/index.json`, content: Buffer.from(`{"latest": "${version}"}`) },
    ],
    result: version,
  }));

test('a new repository has one commit holding config.json, on main', async (t) => {
  const dir = tempDir();
  const repo = await openRepo(dir);
  t.teardown(() => repo.close());
  const files = await lsTree(repo.gitDir);
  t.deepEqual([...files.keys()], ['config.json']);
  t.is((await history(repo.gitDir)).commits.length, 1);
  t.is(fs.readFileSync(path.join(dir, 'index', 'config.json'), 'utf8'), '{"protocol": 1}\n');
  await fsck(repo.gitDir);
});

test('hundreds of commits: git fsck is clean, history is linear, served files equal main', async (t) => {
  const dir = tempDir();
  const repo = await openRepo(dir, { packEvery: 120 });
  t.teardown(() => repo.close());
  const ids: string[] = [];
  for (let i = 0; i < 300; i++) {
    const { commit } = await publish(repo, `author-${i % 13}`, `1.0.${i}`);
    ids.push(commit as string);
  }
  await repo.maintain();
  await fsck(repo.gitDir);
  const { commits, linear } = await history(repo.gitDir);
  t.true(linear);
  t.is(commits.length, 301);
  t.deepEqual(commits.slice(0, 300).reverse(), ids);
  t.deepEqual(await folderFiles(path.join(dir, 'index')), await lsTree(repo.gitDir));
  t.is(repo.head(), ids[ids.length - 1] as string);
});

test('a folder of hundreds of authors, changed in place commit after commit: git fsck is clean and the served files equal main', async (t) => {
  const dir = tempDir();
  let repo = await openRepo(dir);
  await Promise.all(Array.from({ length: 300 }, (_, i) => publish(repo, `author-${i}`, '1.0.0')));
  for (let i = 0; i < 40; i++) await publish(repo, `author-${(i * 37) % 300}`, `1.1.${i}`);
  await repo.close();
  // Reopened, the large tree is read back (decoded) and changed in place again.
  repo = await openRepo(dir);
  t.teardown(() => repo.close());
  for (let i = 0; i < 20; i++) await publish(repo, `author-${(i * 53) % 300}`, `1.2.${i}`);
  await fsck(repo.gitDir);
  t.deepEqual(await folderFiles(path.join(dir, 'index')), await lsTree(repo.gitDir));
  t.is((await repo.snapshot().list('packages'))?.length, 300);
});

test('50 concurrent commits all land in one linear history', async (t) => {
  const dir = tempDir();
  const repo = await openRepo(dir);
  t.teardown(() => repo.close());
  const results = await Promise.all(Array.from({ length: 50 }, (_, i) => publish(repo, `a${i}`, '1.0.0')));
  const commits = new Set(results.map((r) => r.commit));
  t.is(commits.size, 50);
  const { commits: log, linear } = await history(repo.gitDir);
  t.true(linear);
  t.is(log.length, 51);
  for (const commit of commits) t.true(log.includes(commit as string));
  const files = await lsTree(repo.gitDir);
  for (let i = 0; i < 50; i++) t.true(files.has(`packages/a${i}/pkg/1.0.0/bundle.pkg.gz`));
  await fsck(repo.gitDir);
});

test('a plan sees the commits queued before it, and a plan that throws commits nothing', async (t) => {
  const repo = await openRepo(tempDir());
  t.teardown(() => repo.close());
  await publish(repo, 'a', '1.0.0');
  const seen = await repo.update(async (current) => ({ result: await current.readJson<{ latest: string }>('packages/a/pkg/index.json') }));
  t.deepEqual(seen, { commit: null, result: { latest: '1.0.0' } });
  const before = repo.head();
  await t.throwsAsync(repo.update(() => {
    throw new Error('refused');
  }), { message: 'refused' });
  t.is(repo.head(), before);
});

test('no commit when nothing changes', async (t) => {
  const repo = await openRepo(tempDir());
  t.teardown(() => repo.close());
  await publish(repo, 'a', '1.0.0');
  const head = repo.head();
  const again = await publish(repo, 'a', '1.0.0');
  t.is(again.commit, null);
  const deleteMissing = await repo.update(() => ({ message: 'Delete nothing', changes: [{ path: 'packages/none/x', delete: true }], result: null }));
  t.is(deleteMissing.commit, null);
  t.is(repo.head(), head);
  t.is((await history(repo.gitDir)).commits.length, 2);
});

test('deleting the last file of a folder removes the folder, in the tree and the served folder', async (t) => {
  const dir = tempDir();
  const repo = await openRepo(dir);
  t.teardown(() => repo.close());
  await publish(repo, 'a', '1.0.0');
  await repo.update(() => ({ message: 'Revoke a/pkg 1.0.0', changes: [{ path: 'packages/a/pkg/1.0.0/bundle.pkg.gz', delete: true }], result: null }));
  const files = await lsTree(repo.gitDir);
  t.false(files.has('packages/a/pkg/1.0.0/bundle.pkg.gz'));
  t.true(files.has('packages/a/pkg/index.json'));
  t.false(fs.existsSync(path.join(dir, 'index/packages/a/pkg/1.0.0')));
  t.deepEqual(await folderFiles(path.join(dir, 'index')), files);
  t.is(await repo.snapshot().readFile('packages/a/pkg/1.0.0/bundle.pkg.gz'), null);
});

test('paths that could leave the tree are refused', async (t) => {
  const repo = await openRepo(tempDir());
  t.teardown(() => repo.close());
  for (const bad of ['../x', 'a//b', '/abs', 'a/./b', '.git/config', 'a/']) {
    await t.throwsAsync(repo.update(() => ({ message: 'bad', changes: [{ path: bad, content: Buffer.from('x') }], result: null })), undefined, bad);
  }
});

test('reopening keeps every commit, and reads work from packs after packing', async (t) => {
  const dir = tempDir();
  let repo = await openRepo(dir, { packEvery: 0 });
  for (let i = 0; i < 20; i++) await publish(repo, 'a', `1.0.${i}`);
  await repo.maintain();
  const head = repo.head();
  await repo.close();
  t.is(fs.readdirSync(path.join(dir, 'index.git/objects')).filter((d) => /^[0-9a-f]{2}$/.test(d)).length, 0, 'no loose objects left');
  repo = await openRepo(dir);
  t.teardown(() => repo.close());
  t.is(repo.head(), head);
  t.is((await repo.snapshot().readFile('packages/a/pkg/1.0.7/bundle.pkg.gz'))?.toString(), 'bundle a 1.0.7');
  await publish(repo, 'b', '2.0.0');
  await fsck(repo.gitDir);
});

test('a second process on the same repository refuses to open it, with a clear message', async (t) => {
  const dir = tempDir();
  const repo = await openRepo(dir);
  t.teardown(() => repo.close());
  const error = await t.throwsAsync(openRepo(dir), { instanceOf: RepositoryInUseError });
  t.regex(error?.message ?? '', new RegExp(`pid ${process.pid}`));
});

test('a served folder damaged while the registry was down is repaired on open', async (t) => {
  const dir = tempDir();
  let repo = await openRepo(dir);
  await publish(repo, 'a', '1.0.0');
  await repo.close();
  const served = path.join(dir, 'index');
  fs.writeFileSync(path.join(served, 'packages/a/pkg/index.json'), '{"torn');
  fs.writeFileSync(path.join(served, 'stray.json'), '{}');
  fs.rmSync(path.join(served, 'config.json'));
  fs.rmSync(`${served}.commit`);
  repo = await openRepo(dir);
  t.teardown(() => repo.close());
  t.deepEqual(await folderFiles(served), await lsTree(repo.gitDir));
});

test('a served folder lost while the registry was down is rebuilt even when a required file changes at open', async (t) => {
  const dir = tempDir();
  let repo = await openRepo(dir);
  await publish(repo, 'a', '1.0.0');
  await repo.close();
  fs.rmSync(path.join(dir, 'index'), { recursive: true });
  fs.rmSync(path.join(dir, 'index.commit'));
  repo = await openIndexRepo({
    gitDir: path.join(dir, 'index.git'),
    servedDir: path.join(dir, 'index'),
    clock,
    log: memoryLogger(),
    name: 'public',
    required: { 'config.json': Buffer.from('{"protocol": 1, "moved": true}\n') },
    packEvery: 0,
  });
  t.teardown(() => repo.close());
  const files = await lsTree(repo.gitDir);
  t.true(files.has('packages/a/pkg/index.json'));
  t.deepEqual(await folderFiles(path.join(dir, 'index')), files);
  t.is(fs.readFileSync(path.join(dir, 'index', 'config.json'), 'utf8'), '{"protocol": 1, "moved": true}\n');
});

test('concurrent plans each see the commits before them, even those stored together with theirs', async (t) => {
  const repo = await openRepo(tempDir());
  t.teardown(() => repo.close());
  const increment = (fail: boolean) =>
    repo.update(async (current) => {
      const count = Number((await current.readFile('counter'))?.toString() ?? '0');
      if (fail) throw new Error('refused');
      return { message: `Count ${count + 1}`, changes: [{ path: 'counter', content: Buffer.from(String(count + 1)) }], result: count + 1 };
    });
  const results = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => increment(i % 10 === 3)));
  const counts = results.filter((r) => r.status === 'fulfilled').map((r) => r.value.result);
  t.deepEqual(counts, Array.from({ length: 36 }, (_, i) => i + 1));
  t.is(results.filter((r) => r.status === 'rejected').length, 4);
  t.is((await repo.snapshot().readFile('counter'))?.toString(), '36');
  const { commits, linear } = await history(repo.gitDir);
  t.true(linear);
  t.is(commits.length, 37);
  await fsck(repo.gitDir);
});

test('a write that fails fails every plan that saw its commits, those planned on it while it was written too; the next plans run on the stored state', async (t) => {
  const dir = tempDir();
  const repo = await openRepo(dir);
  t.teardown(() => repo.close());
  const counter = async (current: Snapshot) => Number((await current.readFile('counter'))?.toString() ?? '0');
  await repo.update(async (current) => ({ message: 'Count 1', changes: [{ path: 'counter', content: Buffer.from('1') }], result: 1 }));
  // A folder where the writer puts a ref's lock file: the write fails after its large served file
  // was staged, which leaves time for the next plans to run on its state meanwhile.
  const poison = 'refs/namespaces/t/refs/bundles/poison';
  fs.mkdirSync(path.join(repo.gitDir, `${poison}.lock`), { recursive: true });
  const failing = repo.update(async () => ({
    message: 'Count 1000 and a ref that cannot be set',
    changes: [
      { path: 'counter', content: Buffer.from('1000') },
      { path: 'large', content: Buffer.alloc(64 * 1024 * 1024) },
    ],
    refs: [{ ref: poison, blob: Buffer.from('poison') }],
    result: 2,
  }));
  const seen: number[] = [];
  const increments: Array<Promise<{ result: number }>> = [];
  for (let i = 0; i < 30; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    increments.push(
      repo.update(async (current) => {
        const count = await counter(current);
        seen[i] = count;
        // Every third plan, the first one included, only reads: it commits nothing, but what it
        // answers depends on the state it saw.
        if (i % 3 === 0) return { result: count };
        return { message: `Count ${count + 1}`, changes: [{ path: 'counter', content: Buffer.from(String(count + 1)) }], result: count + 1 };
      }),
    );
  }
  await t.throwsAsync(failing, { code: 'EISDIR' });
  const results = await Promise.allSettled(increments);
  // Plans ran on the state of the write under way (they read its count, 1000 or more), reads
  // among them, and every one of those was refused with its error.
  t.true(seen.some((count, i) => count >= 1000 && i % 3 === 0), `plans ran on the failed write's state: ${JSON.stringify(seen)}`);
  for (const [i, result] of results.entries()) {
    if ((seen[i] as number) >= 1000) t.is(result.status, 'rejected', `plan ${i} saw ${seen[i]}`);
    if (result.status === 'rejected') t.is((result.reason as NodeJS.ErrnoException).code, 'EISDIR', `plan ${i}: ${String(result.reason)}`);
  }
  const counted = results.filter((_, i) => i % 3 !== 0);
  // Those that succeeded, and plans made after, count on from what was stored: 2, 3, 4... with no gap.
  const later = await Promise.all(
    Array.from({ length: 10 }, () =>
      repo.update(async (current) => {
        const count = await counter(current);
        return { message: `Count ${count + 1}`, changes: [{ path: 'counter', content: Buffer.from(String(count + 1)) }], result: count + 1 };
      }),
    ),
  );
  const fulfilled = [...counted.flatMap((r) => (r.status === 'fulfilled' ? [r.value.result] : [])), ...later.map((r) => r.result)];
  t.deepEqual(fulfilled, Array.from({ length: fulfilled.length }, (_, i) => i + 2));
  t.is((await repo.snapshot().readFile('counter'))?.toString(), String(fulfilled.length + 1));
  t.is(await repo.snapshot().readFile('large'), null);
  const { commits, linear } = await history(repo.gitDir);
  t.true(linear);
  t.is(commits.length, 2 + fulfilled.length);
  await fsck(repo.gitDir);
});

test('packing waits until no commit has come for a while; a burst of ten times packEvery folds packs at once, without the search for deltas', async (t) => {
  const dir = tempDir();
  const log = memoryLogger();
  const repo = await openRepo(dir, { packEvery: 5, packQuietMs: 1500, log });
  t.teardown(() => repo.close());
  const packed = () => log.lines.filter((line) => line.event === 'index_packed');
  const burstStarted = Date.now();
  for (let i = 0; i < 12; i++) await publish(repo, 'quiet', `1.0.${i}`);
  // (A burst slower than the quiet time would rightly be packed in its pauses: it is not one.)
  if (Date.now() - burstStarted < 1500) t.is(packed().length, 0, 'not while commits keep coming');
  const deadline = Date.now() + 20_000;
  while (packed().length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  t.like(packed()[0], { deltas: true }, 'once quiet, with the search for deltas');
  const before = packed().length;
  for (let i = 0; i < 60; i++) await publish(repo, 'busy', `1.0.${i}`);
  while (!packed().slice(before).some((line) => line.deltas === false) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  t.true(packed().slice(before).some((line) => line.deltas === false), 'folded during the burst, without the search');
  await repo.maintain();
  await fsck(repo.gitDir);
});

test('listeners hear of each durable change after it, and a failing listener changes nothing', async (t) => {
  const dir = tempDir();
  const repo = await openRepo(dir);
  t.teardown(() => repo.close());
  const heard: Array<{ kind: string; head: string }> = [];
  repo.onChange(() => {
    throw new Error('a listener that fails');
  });
  const stop = repo.onChange((change) => heard.push({ kind: change.kind, head: change.head }));
  const { commit } = await publish(repo, 'a', '1.0.0');
  t.deepEqual(heard, [], 'told after the commit, never during it');
  await new Promise((resolve) => setImmediate(resolve));
  t.deepEqual(heard, [{ kind: 'commit', head: commit as string }]);
  stop();
  await publish(repo, 'a', '1.0.1');
  await new Promise((resolve) => setImmediate(resolve));
  t.is(heard.length, 1);
});

test('a repack left running by a process killed before it wrote the pid file is found by its command line and stopped before the packs are read', async (t) => {
  const dir = tempDir();
  await (await openRepo(dir)).close();
  const gitDir = path.join(dir, 'index.git');
  // Stands for a `git repack` of this repository, in a process group of its own, named by no pid file.
  const { spawn } = await import('node:child_process');
  const stray = spawn('sh', ['-c', 'sleep 60', 'repack', gitDir], { detached: true, stdio: 'ignore' });
  const exited = new Promise((resolve) => stray.once('exit', resolve));
  const log = memoryLogger();
  const repo = await openIndexRepo({ gitDir, servedDir: path.join(dir, 'index'), clock, log, name: 'public', required: { 'config.json': Buffer.from('{"protocol": 1}\n') }, packEvery: 0 });
  t.teardown(() => repo.close());
  t.true(log.lines.some((line) => line.event === 'index_stale_repack_stopped'));
  t.not(await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve('still running'), 2000))]), 'still running');
});
