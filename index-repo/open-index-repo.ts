import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import git from 'isomorphic-git';
import type { Clock } from '../gateway/clock.ts';
import type { Logger } from '../gateway/log.ts';
import { describeError } from '../gateway/log.ts';
import type { CommitPlan, FileChange, IndexRepo, Snapshot } from './types.ts';
import { decodeCommit, encodeCommit, encodeObject, EMPTY_TREE } from './git-object.ts';
import { ObjectStore, type ObjectStoreOptions } from './object-store.ts';
import { buildTree } from './tree-builder.ts';
import { createSnapshot } from './snapshot.ts';
import { readMain, removeStaleRefLock, updateMain } from './refs.ts';
import { takeProcessLock } from './process-lock.ts';
import { writeServerInfo } from './server-info.ts';
import { ServedFolder } from './served-folder.ts';
import { removeStaleTemps } from './durable-fs.ts';
import { gitAvailable, repack } from './maintenance.ts';

const AUTHOR = 'Gren Registry <registry@localhost>';

export type OpenIndexRepoOptions = {
  gitDir: string;
  servedDir: string | null;
  clock: Clock;
  log: Logger;
  /** A name for log lines: "public" or "private". */
  name: string;
  /** Files that must exist with this content on `main`; committed at open when they differ. */
  required: Record<string, Uint8Array>;
  /** Commits between two packings for clones (0: never pack by itself). Default 100. */
  packEvery?: number;
  store?: ObjectStoreOptions;
};

/** An index repository opened by this process, with the maintenance the registry schedules. */
export type LocalIndexRepo = IndexRepo & {
  /** Packs loose objects now (needs the `git` command) and waits for it. */
  maintain(): Promise<void>;
};

async function initialise(gitDir: string): Promise<void> {
  if (fs.existsSync(path.join(gitDir, 'HEAD'))) return;
  await git.init({ fs, dir: gitDir, gitdir: gitDir, bare: true, defaultBranch: 'main' });
  await fsp.mkdir(path.join(gitDir, 'objects', 'info'), { recursive: true });
  await fsp.mkdir(path.join(gitDir, 'info'), { recursive: true });
}

/** Clears what a process killed mid-commit may have left: temporary files and the ref lock. */
async function removeLeftovers(gitDir: string): Promise<number> {
  await removeStaleRefLock(gitDir);
  const objects = path.join(gitDir, 'objects');
  const dirs = (await fsp.readdir(objects)).filter((d) => /^[0-9a-f]{2}$/.test(d));
  let removed = 0;
  for (const dir of [...dirs.map((d) => path.join(objects, d)), path.join(objects, 'info'), path.join(gitDir, 'info')]) {
    removed += await removeStaleTemps(dir);
  }
  return removed;
}

export async function openIndexRepo(options: OpenIndexRepoOptions): Promise<LocalIndexRepo> {
  const { gitDir, clock, log, name } = options;
  await fsp.mkdir(gitDir, { recursive: true });
  await initialise(gitDir);
  const release = takeProcessLock(gitDir);
  try {
    return await openLocked(options, release);
  } catch (err) {
    release();
    throw err;
  }

  async function openLocked(options: OpenIndexRepoOptions, release: () => void): Promise<LocalIndexRepo> {
    const leftovers = await removeLeftovers(gitDir);
    if (leftovers > 0) log.warn('index_leftovers_removed', { repo: name, files: leftovers });
    const store = new ObjectStore(gitDir, options.store);
    await store.rescanPacks();
    const served = options.servedDir ? new ServedFolder(options.servedDir) : null;
    const packEvery = options.packEvery ?? 100;
    const canPack = await gitAvailable();
    if (!canPack) log.warn('index_packing_disabled', { repo: name, reason: 'the git command is not installed' });

    let head = await readMain(gitDir);
    let rootTree = head ? decodeCommit((await store.read(head)).content).tree : EMPTY_TREE;
    let current: Snapshot = createSnapshot(store, head ?? '', rootTree);
    let tail: Promise<unknown> = Promise.resolve();
    let closed = false;
    let commitsSincePack = 0;
    let packing: Promise<void> | null = null;

    const enqueue = <T>(task: () => Promise<T>): Promise<T> => {
      const run = tail.then(task);
      tail = run.catch(() => undefined);
      return run;
    };

    const commit = async (message: string, changes: FileChange[]): Promise<string | null> => {
      const built = await buildTree(store, rootTree, changes);
      if (head !== null && built.oid === rootTree) return null;
      const commitObject = encodeObject('commit', encodeCommit({ tree: built.oid, parents: head ? [head] : [], author: AUTHOR, message, time: clock.now() }));
      await store.writeAll([...built.objects, commitObject]);
      await updateMain(gitDir, commitObject.oid);
      head = commitObject.oid;
      rootTree = built.oid;
      current = createSnapshot(store, head, rootTree);
      await writeServerInfo(gitDir, head, store.packNames());
      if (served) await served.apply(changes, head);
      log.info('index_commit', { repo: name, commit: head, message: message.split('\n', 1)[0] });
      commitsSincePack++;
      if (canPack && packEvery > 0 && commitsSincePack >= packEvery && !packing) void maintain().catch(() => undefined);
      return head;
    };

    const maintain = (): Promise<void> => {
      if (!canPack) return Promise.reject(new Error('packing needs the git command'));
      packing ??= (async () => {
        commitsSincePack = 0;
        const started = performance.now();
        try {
          await repack(gitDir);
          await enqueue(async () => {
            await store.rescanPacks();
            if (head) await writeServerInfo(gitDir, head, store.packNames());
          });
          log.info('index_packed', { repo: name, packs: store.packNames().length, ms: Math.round(performance.now() - started) });
        } catch (err) {
          log.error('index_pack_failed', { repo: name, ...describeError(err) });
          throw err;
        } finally {
          packing = null;
        }
      })();
      return packing;
    };

    const update = <T>(plan: (snapshot: Snapshot) => Promise<CommitPlan<T>> | CommitPlan<T>) => {
      if (closed) return Promise.reject(new Error(`the ${name} index repository is closed`));
      return enqueue(async () => {
        const planned = await plan(current);
        if (!('changes' in planned) || planned.changes.length === 0) return { commit: null, result: planned.result };
        return { commit: await commit(planned.message, planned.changes), result: planned.result };
      });
    };

    // Bring `main` to what the registry requires (the first commit, or a changed config.json).
    await enqueue(async () => {
      const changes: FileChange[] = [];
      for (const [file, content] of Object.entries(options.required)) {
        const existing = await current.readFile(file);
        if (!existing || !existing.equals(content)) changes.push({ path: file, content });
      }
      if (head === null) await commit('Create the index', changes);
      else if (changes.length > 0) await commit(`Update ${changes.map((c) => c.path).join(', ')}`, changes);
    });
    if (head) await writeServerInfo(gitDir, head, store.packNames());
    if (served && head && (await served.servedCommit()) !== head) {
      const repaired = await served.reconcile(store, rootTree, head);
      log.warn('index_served_repaired', { repo: name, commit: head, paths: repaired });
    }

    return {
      gitDir,
      servedDir: options.servedDir,
      head: () => head ?? '',
      snapshot: () => current,
      update,
      maintain,
      async close() {
        if (closed) return;
        closed = true;
        await tail;
        await packing?.catch(() => undefined);
        await store.close();
        release();
      },
    };
  }
}
