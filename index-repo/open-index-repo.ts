import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import git from 'isomorphic-git';
import type { Clock, FileChange, IndexRepo, Logger, ServedRefs, Snapshot } from './types.ts';
import { decodeCommit, EMPTY_TREE } from './git-object.ts';
import { ObjectStore, type ObjectStoreOptions } from './object-store.ts';
import { readMain, removeStaleRefLock } from './refs.ts';
import { takeProcessLock } from './process-lock.ts';
import { ServedFolder } from './served-folder.ts';
import { removeStaleTemps } from './durable-fs.ts';
import { gitAvailable, stopStaleRepack } from './maintenance.ts';
import { GitIndexRepo } from './git-index-repo.ts';
import { loadContentRefs, removeStaleRefLocks } from './content-refs.ts';
import { NO_SERVED_REFS } from './snapshot.ts';
import { purgeOwed, readFormat, writeFormat } from './marks.ts';
import { CommitLog, type CommitLogOptions } from './commit-log.ts';
import { replayLog } from './repo-writer.ts';
import { WriterThread } from './writer-thread.ts';

/** The commit log's folder inside the bare repository (Git ignores what it does not know there). */
const LOG_DIR = 'registry-log';

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
  /** How long no commit must come before owed packing starts (0: at once). Default 2 s. */
  packQuietMs?: number;
  /** Content refs served as files in the served folder (and by `servedEntry`). None by default. */
  servedRefs?: ServedRefs;
  /** Whether `update` answers where its batch's time went, by stage (`timings`). Off by default: no marks are made. */
  timings?: boolean;
  commitLog?: CommitLogOptions;
  /**
   * The nice value of the writer thread (0 to 19; Linux, where it applies to that thread alone):
   * above the event loop's, so that under a full CPU the loop (reads, the next requests) runs
   * first and the writing of batches waits. 0 by default.
   */
  writerNice?: number;
  /**
   * The version of the repository's layout its owner writes today: a new repository is marked
   * with it; an existing one keeps its mark (0 when it has none) until the owner converts it and
   * calls `setFormat`.
   */
  format?: number;
  store?: ObjectStoreOptions;
};

/** An index repository opened by this process, with the maintenance the registry schedules. */
export type LocalIndexRepo = IndexRepo & {
  /** Packs loose objects now (needs the `git` command) and waits for it. */
  maintain(): Promise<void>;
  /** The layout version the repository is marked with (see `OpenIndexRepoOptions.format`). */
  format(): number;
  /** Marks the repository, durably, as being in layout `version`. */
  setFormat(version: number): Promise<void>;
  /**
   * Rewrites the history of `main` without the files `keep` refuses, keeping every commit with its
   * author, dates and message; what only the old history held is purged by the next `purge`.
   */
  replaceHistory(keep: (path: string) => boolean): Promise<{ commit: string | null; commits: number }>;
};

/** Creates the bare repository (isomorphic-git's init: HEAD on main, config, folders). */
async function initialise(gitDir: string): Promise<void> {
  await fsp.mkdir(gitDir, { recursive: true });
  if (!fs.existsSync(path.join(gitDir, 'HEAD'))) {
    await git.init({ fs, dir: gitDir, gitdir: gitDir, bare: true, defaultBranch: 'main' });
  }
  await fsp.mkdir(path.join(gitDir, 'objects', 'info'), { recursive: true });
  await fsp.mkdir(path.join(gitDir, 'info'), { recursive: true });
}

/** Clears what a process killed mid-commit may have left: temporary files and the ref lock (orphan packs: the store). */
async function removeLeftovers(gitDir: string): Promise<number> {
  await removeStaleRefLock(gitDir);
  const locks = removeStaleRefLocks(gitDir);
  const objects = path.join(gitDir, 'objects');
  const dirs = (await fsp.readdir(objects)).filter((d) => /^[0-9a-f]{2}$/.test(d));
  let removed = locks;
  for (const dir of [...dirs.map((d) => path.join(objects, d)), path.join(objects, 'pack'), path.join(objects, 'info'), path.join(gitDir, 'info')]) {
    removed += await removeStaleTemps(dir);
  }
  return removed;
}

/** The changes that bring `main` to the required files, or none. */
async function requiredChanges(current: Snapshot, required: Record<string, Uint8Array>): Promise<FileChange[]> {
  const changes: FileChange[] = [];
  for (const [file, content] of Object.entries(required)) {
    const existing = await current.readFile(file);
    if (!existing || !existing.equals(content)) changes.push({ path: file, content });
  }
  return changes;
}

/**
 * Opens (creating on first use) an index repository for this process alone: takes its lock,
 * clears what a crash left, repairs the served folder, and commits the required files when
 * they differ (the first commit of a new repository).
 */
export async function openIndexRepo(options: OpenIndexRepoOptions): Promise<LocalIndexRepo> {
  const { gitDir, log, name } = options;
  await initialise(gitDir);
  const release = takeProcessLock(gitDir);
  const store = new ObjectStore(gitDir, options.store);
  let closeLog: (() => void) | null = null;
  let writer: WriterThread | null = null;
  try {
    if (await stopStaleRepack(gitDir)) log.warn('index_stale_repack_stopped', { repo: name });
    const logDir = path.join(gitDir, LOG_DIR);
    const { log: commitLog, replay } = CommitLog.open(logDir, options.commitLog);
    closeLog = () => commitLog.close();
    let leftovers = await removeLeftovers(gitDir);
    const replayed = await replayLog(gitDir, store, commitLog, replay);
    if (replay.length > 0) log.warn('index_log_replayed', { repo: name, records: replay.length });
    // From here on the log is the writer thread's.
    commitLog.close();
    closeLog = null;
    leftovers += await store.removeOrphanPacks();
    if (leftovers > 0) log.warn('index_leftovers_removed', { repo: name, files: leftovers });
    await store.rescanPacks();
    const hasGit = await gitAvailable();
    if (!hasGit) log.warn('index_packing_disabled', { repo: name, reason: 'the git command is not installed' });
    const commit = await readMain(gitDir);
    const head = commit ? { commit, tree: decodeCommit((await store.read(commit)).content).tree } : null;
    if (head === null && options.format !== undefined) await writeFormat(gitDir, options.format);
    let format = await readFormat(gitDir);
    const served = options.servedDir ? new ServedFolder(options.servedDir) : null;
    const packEvery = hasGit ? (options.packEvery ?? 100) : null;
    const refs = loadContentRefs(gitDir);
    const servedRefs = options.servedRefs ?? NO_SERVED_REFS;
    writer = new WriterThread({ gitDir, name, logDir, servedDir: options.servedDir, commitLog: options.commitLog, nice: options.writerNice ?? 0 }, log);
    await writer.ready;
    const parts = { gitDir, name, store, served, clock: options.clock, log, head, refs, servedRefs, packEvery, packQuietMs: options.packQuietMs ?? 2000, writer, timings: options.timings ?? false, purgeOwed: purgeOwed(gitDir), release };
    const repo = Object.assign(new GitIndexRepo(parts, EMPTY_TREE), {
      format: () => format,
      async setFormat(version: number) {
        await writeFormat(gitDir, version);
        format = version;
      },
    });
    await repo.repairServed(replayed);
    await repo.update(async (current) => {
      const changes = await requiredChanges(current, options.required);
      const message = head ? `Update ${changes.map((c) => c.path).join(', ')}` : 'Create the index';
      return { message, changes, result: null };
    });
    // Git serves clones with its smart protocol: files for the dumb one would only go stale.
    for (const file of ['info/refs', 'objects/info/packs']) fs.rmSync(path.join(gitDir, file), { force: true });
    return repo;
  } catch (err) {
    closeLog?.();
    await writer?.close().catch(() => undefined);
    await store.close();
    release();
    throw err;
  }
}
