import fs from 'node:fs';
import type { ObjectStore } from './object-store.ts';

/** What placing a record's pack needs: the object store, or on the writer thread the pack folder alone. */
export type PackPlacer = Pick<ObjectStore, 'placePack' | 'adoptPack'>;
import type { RepoRecord } from './log-record.ts';
import { prepareRefs } from './content-refs.ts';
import { BRANCH } from './refs.ts';

/** A record's changes to the repository's files, written where they need space, waiting to be put in place. */
export type PreparedRecord = {
  /** Puts the record's changes in place with renames and removals alone (the paths changed go to `touched`), then reads from its pack. */
  install(touched: Set<string>): Promise<void>;
  /** Removes what was written, when the record is not to be committed. */
  discard(): void;
};

/**
 * Applies a record of the commit log to the repository's files, in two steps so that a full disk
 * fails the first and never the second. `prepareRecord` writes everything that takes space: the
 * pack in place (unreferenced, with a `.keep` file so that a purge running meanwhile leaves it
 * alone), the new values of the refs to their lock files. `install` renames the content refs,
 * then `main`, over their refs, removes the `.keep` and the deleted refs: a reader (this process,
 * `git` serving a clone) sees each ref move whole. Nothing is flushed: the record is durable in
 * the log, and the files it wrote go to `touched`, flushed by the next checkpoint. When
 * `replaying`, a pack already whole on disk is kept.
 */
export function prepareRecord(gitDir: string, store: PackPlacer, record: RepoRecord, touched: Set<string>, replaying = false): PreparedRecord {
  const pack = record.pack ? store.placePack(record.pack, touched, replaying) : null;
  let refs: ReturnType<typeof prepareRefs>;
  try {
    const changes: Array<[string, string | null]> = [...record.set, ...(record.main ? [[BRANCH, record.main] as [string, string]] : []), ...record.deleted.map((ref): [string, null] => [ref, null])];
    refs = prepareRefs(gitDir, changes, touched);
  } catch (err) {
    pack?.discard();
    throw err;
  }
  return {
    async install(touched) {
      refs.install(touched);
      if (pack) fs.rmSync(pack.keep, { force: true });
      if (record.pack) await store.adoptPack(record.pack.name, record.pack.idx);
    },
    discard() {
      refs.discard();
      pack?.discard();
    },
  };
}

/** Flushes files and folders (fsync), a few at a time; one that is gone since (a pack a repack folded) is skipped. */
export async function flushPaths(paths: Iterable<string>): Promise<void> {
  const flushOne = async (file: string) => {
    let handle: fs.promises.FileHandle;
    try {
      handle = await fs.promises.open(file, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  };
  // Files before folders: a name is durable once its folder is flushed after the file's content.
  const all = [...paths];
  const dirs = all.filter(isDir);
  const files = all.filter((p) => !dirs.includes(p));
  for (const group of [files, dirs]) {
    for (let i = 0; i < group.length; i += 16) await Promise.all(group.slice(i, i + 16).map(flushOne));
  }
}

function isDir(file: string): boolean {
  try {
    return fs.statSync(file).isDirectory();
  } catch {
    return false;
  }
}
