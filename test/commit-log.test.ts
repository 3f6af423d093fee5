import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { openIndexRepo, type LocalIndexRepo } from '../index-repo/open-index-repo.ts';
import { memoryLogger } from '../gateway/log.ts';
import { CommitLog } from '../index-repo/commit-log.ts';
import { tempDir } from './helpers/registry.ts';
import { fsck, gitCmd, history, lsTree } from './helpers/git.ts';

const config = { 'config.json': Buffer.from('{"protocol": 1}\n') };

function open(dir: string, log = memoryLogger()): Promise<LocalIndexRepo> {
  return openIndexRepo({ gitDir: path.join(dir, 'index.git'), servedDir: path.join(dir, 'index'), clock: { now: () => new Date() }, log, name: 'public', required: config, packEvery: 0 });
}

const tag = (version: string) => `refs/namespaces/crash/refs/namespaces/pkg/refs/tags/${version}`;

/** One commit of main and a content ref, as a publish makes. */
function publish(repo: LocalIndexRepo, version: string) {
  return repo.update(() => ({
    message: `Publish crash/pkg ${version}`,
    changes: [
      { path: `packages/crash/pkg/${version}/gren.json`, content: Buffer.from(`{"version": "${version}"}`) },
      { path: 'packages/crash/pkg/index.json', content: Buffer.from(`{"latest": "${version}"}`) },
    ],
    refs: [{ ref: tag(version), commit: { files: [{ path: 'src/Main.gren', content: Buffer.alloc(3000, version.length) }], message: version, time: new Date(0) } }],
    result: null,
  }));
}

/** Every file below `dir`, relative, with its bytes; a file gone between listing and reading (a temporary one the writer thread renamed meanwhile) is left out. */
function snapshotFiles(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) {
      const full = path.join(entry.parentPath, entry.name);
      try {
        files.set(path.relative(dir, full), fs.readFileSync(full));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  }
  return files;
}

/** Makes `dir` hold exactly `files`. */
function restore(dir: string, files: Map<string, Buffer>): void {
  fs.rmSync(dir, { recursive: true, force: true });
  for (const [file, bytes] of files) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), bytes);
  }
}

async function refsOf(gitDir: string): Promise<string[]> {
  return (await gitCmd(['--git-dir', gitDir, 'for-each-ref', '--format=%(refname)', 'refs/namespaces/'])).trim().split('\n').filter(Boolean);
}

test('a power cut that loses every write since the last checkpoint but the log loses no acknowledged commit', async (t) => {
  const dir = tempDir();
  const gitDir = path.join(dir, 'index.git');
  let repo = await open(dir);
  for (let i = 0; i < 3; i++) await publish(repo, `1.0.${i}`);
  await repo.close(); // A checkpoint: everything so far is on disk.
  const atCheckpoint = snapshotFiles(dir);

  repo = await open(dir);
  const acknowledged: string[] = [];
  for (let i = 3; i < 25; i++) acknowledged.push((await publish(repo, `1.0.${i}`)).commit as string);
  // The power goes: what was written since the checkpoint never reached the disk, but the log
  // was flushed with each batch. (The repository is left open: no checkpoint, as after a cut.)
  const logDir = path.join('index.git', 'registry-log');
  const segments = [...snapshotFiles(dir)].filter(([file]) => file.startsWith(logDir) && /segment-\d+$/.test(file));
  const afterCut = new Map(atCheckpoint);
  for (const [file, bytes] of segments) afterCut.set(file, bytes);
  const saved = snapshotFiles(dir);
  await repo.close();
  restore(dir, afterCut);

  const log = memoryLogger();
  const recovered = await open(dir, log);
  t.teardown(() => recovered.close());
  t.true(log.lines.some((line) => line.event === 'index_log_replayed'));
  await fsck(gitDir);
  const { commits, linear } = await history(gitDir);
  t.true(linear);
  t.deepEqual(acknowledged.filter((c) => !commits.includes(c)), [], 'every acknowledged commit is on main');
  t.is(recovered.head(), acknowledged.at(-1) as string);
  t.is((await refsOf(gitDir)).length, 25, 'every content ref is back');
  const served = snapshotFiles(path.join(dir, 'index'));
  const main = await lsTree(gitDir);
  t.deepEqual([...served.keys()].sort(), [...main.keys()].sort(), 'the served folder equals main');
  t.true(saved.size > 0);
});

test('a power cut that keeps a random part of the writes since the checkpoint, and tears the last files, recovers too', async (t) => {
  const dir = tempDir();
  const gitDir = path.join(dir, 'index.git');
  let repo = await open(dir);
  await publish(repo, '1.0.0');
  await repo.close();
  const atCheckpoint = snapshotFiles(dir);
  repo = await open(dir);
  const acknowledged: string[] = [];
  for (let i = 1; i < 15; i++) acknowledged.push((await publish(repo, `1.0.${i}`)).commit as string);
  const now = snapshotFiles(dir);
  await repo.close();
  // Of each file changed or made since the checkpoint, keep the new one, the old one, or half of the new one.
  const afterCut = new Map(atCheckpoint);
  let torn = 0;
  for (const [file, bytes] of now) {
    // The lock names this (live) process; after a cut its owner is gone, as here before the cut.
    if (file.endsWith('registry.lock')) continue;
    if (file.includes('registry-log') && !/segment-\d+$/.test(file)) continue;
    if (file.includes('registry-log') || atCheckpoint.get(file)?.equals(bytes)) {
      afterCut.set(file, bytes);
      continue;
    }
    const fate = (file.length * 7 + bytes.length) % 3;
    if (fate === 0) afterCut.set(file, bytes);
    else if (fate === 1) {
      afterCut.set(file, bytes.subarray(0, bytes.length >> 1));
      torn++;
    }
  }
  restore(dir, afterCut);
  const recovered = await open(dir);
  t.teardown(() => recovered.close());
  await fsck(gitDir);
  const { commits } = await history(gitDir);
  t.deepEqual(acknowledged.filter((c) => !commits.includes(c)), []);
  t.is((await refsOf(gitDir)).length, 15);
  t.true(torn > 0, 'some files were torn');
});

test('a record torn by the cut is not replayed, and the log holds nothing once erased', async (t) => {
  const dir = tempDir('gren-log-');
  const { log, replay } = CommitLog.open(dir, { segmentBytes: 64 * 1024 });
  t.deepEqual(replay, []);
  const first = await log.append(Buffer.from('first record'), async () => undefined);
  const second = await log.append(Buffer.from('second record'), async () => undefined);
  log.close();
  // Tear the second record: its last byte differs, as a write the cut stopped halfway.
  const segment = path.join(dir, 'segment-0');
  const bytes = fs.readFileSync(segment);
  const at = bytes.indexOf('second record') + 'second record'.length - 1;
  bytes[at] = 0;
  fs.writeFileSync(segment, bytes);
  const reopened = CommitLog.open(dir, { segmentBytes: 64 * 1024 });
  t.deepEqual(reopened.replay.map((r) => [r.sequence, r.payload.toString()]), [[first, 'first record']]);
  t.is(second, first + 1);
  await reopened.log.checkpoint(reopened.log.last);
  await reopened.log.erase();
  reopened.log.close();
  for (const file of fs.readdirSync(dir)) t.false(fs.readFileSync(path.join(dir, file)).includes('first record'), `${file} holds nothing of it`);
});

test('records fill the segments in turn; each reuse waits for a checkpoint of what the segment held', async (t) => {
  const dir = tempDir('gren-log-');
  const { log } = CommitLog.open(dir, { segmentBytes: 4096 });
  let checkpoints = 0;
  const makeRoom = async () => {
    checkpoints++;
    await log.checkpoint(log.last - 1);
  };
  const payload = Buffer.alloc(1000, 1);
  for (let i = 0; i < 20; i++) await log.append(payload, makeRoom);
  log.close();
  // Four records a segment: the first segment is reused at the 9th record, and again at the 17th
  // (the second was covered by the same checkpoint), each time after a checkpoint of all before.
  t.is(checkpoints, 2);
  const reopened = CommitLog.open(dir, { segmentBytes: 4096 });
  t.deepEqual(reopened.replay.map((r) => r.sequence), [17, 18, 19, 20]);
  reopened.log.close();
});
