import fs from 'node:fs/promises';
import path from 'node:path';
import { blobId, TREE_MODE } from './git-object.ts';
import type { ObjectStore } from './object-store.ts';
import fsSync from 'node:fs';
import { replaceFile, tempPathFor } from './durable-fs.ts';
import type { FileChange } from './types.ts';

/**
 * The served folder holds the tree of `main` as plain files, for any static file server.
 * Each file is replaced by a rename, so a reader never sees half of one. The marker file
 * beside the folder names the commit the folder equals; it is rewritten after the folder
 * changes, so that after a crash `reconcile` knows to compare the folder with `main`.
 */
export class ServedFolder {
  readonly dir: string;
  private readonly marker: string;
  /** Folders known to exist, to spare a mkdir per file. */
  private readonly knownDirs = new Set<string>();
  /** Marker writes, in commit order, off the commit's path. */
  private markerWrites: Promise<void> = Promise.resolve();

  /** Where staged contents wait for their commit: beside the folder (one file system), never served. */
  private readonly staging: string;

  constructor(dir: string) {
    this.dir = dir;
    this.marker = `${dir}.commit`;
    this.staging = `${dir}.staging`;
  }

  /** Empties the staging folder, which a crash may have left holding contents never committed. */
  async clearStaging(): Promise<void> {
    await fs.rm(this.staging, { recursive: true, force: true });
    await fs.mkdir(this.staging, { recursive: true });
  }

  async servedCommit(): Promise<string | null> {
    try {
      return (await fs.readFile(this.marker, 'utf8')).trim();
    } catch {
      return null;
    }
  }

  /**
   * Stages changes (one batch's, in commit order): the new contents are written to the staging
   * folder, where no reader looks, before the commit is made durable, so that a full disk fails
   * the commit rather than the folder. `publish` then renames them into place in the order given
   * (a path written twice counts at its last write), removes what was deleted, and rewrites the
   * marker. The marker is written without holding up the commit: if it is not written (a crash,
   * a full disk), it names an older commit than `main`, and the next start repairs the folder,
   * which is all the marker is for. `discard` removes the staged files when the commit did not
   * happen. Synchronous: small writes to the page cache cost less than a trip through the thread
   * pool.
   */
  stage(changes: FileChange[]): { publish(commit: string): void; discard(): void } {
    const net = new Map<string, Uint8Array | null>();
    for (const change of changes) {
      net.delete(change.path);
      net.set(change.path, 'delete' in change ? null : change.content);
    }
    const temps: Array<{ file: string; temp: string }> = [];
    const discard = () => {
      for (const { temp } of temps) fsSync.rmSync(temp, { force: true });
    };
    try {
      for (const [relative, content] of net) {
        if (content === null) continue;
        const temp = tempPathFor(path.join(this.staging, 'file'));
        temps.push({ file: path.join(this.dir, relative), temp });
        fsSync.writeFileSync(temp, content, { flag: 'wx', mode: 0o644 });
      }
    } catch (err) {
      discard();
      throw err;
    }
    return {
      publish: (commit) => {
        for (const { file, temp } of temps) this.moveInto(temp, file);
        for (const [relative, content] of net) if (content === null) this.remove(relative);
        this.markerWrites = this.markerWrites.then(() => replaceFile(this.marker, `${commit}\n`, false)).catch(() => undefined);
      },
      discard,
    };
  }

  /** Waits for the marker writes under way. */
  settle(): Promise<void> {
    return this.markerWrites;
  }

  /** Renames a staged file into place, creating its folder unless known to exist (or known wrongly: the folder's owner may have removed it meanwhile). */
  private moveInto(temp: string, file: string): void {
    const dir = path.dirname(file);
    this.ensureDir(dir);
    try {
      fsSync.renameSync(temp, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !fsSync.existsSync(temp)) throw err;
      this.knownDirs.delete(dir);
      this.ensureDir(dir);
      fsSync.renameSync(temp, file);
    }
  }

  private ensureDir(dir: string): void {
    if (this.knownDirs.has(dir)) return;
    fsSync.mkdirSync(dir, { recursive: true });
    this.knownDirs.add(dir);
  }

  /** Removes a file and the folders it leaves empty, as Git's tree does. */
  private remove(relative: string): void {
    this.knownDirs.clear();
    fsSync.rmSync(path.join(this.dir, relative), { force: true });
    let dir = path.dirname(relative);
    while (dir !== '.') {
      try {
        fsSync.rmdirSync(path.join(this.dir, dir));
      } catch {
        return;
      }
      dir = path.dirname(dir);
    }
  }

  /**
   * Makes the given paths of the folder equal to what `find` says they hold (a blob, or nothing),
   * rewriting any that differs. Returns how many it repaired.
   */
  async repairPaths(paths: Set<string>, find: (file: string) => Promise<{ type: string; oid: string } | null>, store: ObjectStore): Promise<number> {
    this.knownDirs.clear();
    let repaired = 0;
    for (const file of paths) {
      const full = path.join(this.dir, file);
      const wanted = await find(file);
      const current = await fs.readFile(full).catch(() => null);
      if (wanted?.type !== 'blob') {
        if (current !== null) {
          await fs.rm(full, { force: true });
          repaired++;
        }
        continue;
      }
      if (current !== null && blobId(current) === wanted.oid) continue;
      await fs.mkdir(path.dirname(full), { recursive: true });
      await replaceFile(full, await store.readBlob(wanted.oid), false);
      repaired++;
    }
    return repaired;
  }

  /**
   * Makes the folder equal to the tree `rootTree` plus `extras` (path to blob id: the files served
   * from content refs): rewrites every file whose content differs, removes what neither holds.
   * Returns how many paths it repaired.
   */
  async reconcile(store: ObjectStore, rootTree: string, commit: string, extras: ReadonlyMap<string, string> = new Map()): Promise<number> {
    this.knownDirs.clear();
    await fs.mkdir(this.dir, { recursive: true });
    const expected = new Map<string, string>();
    const walkTree = async (treeOid: string, relative: string): Promise<void> => {
      for (const [name, entry] of await store.readTree(treeOid)) {
        const file = relative === '' ? name : `${relative}/${name}`;
        if (entry.mode === TREE_MODE) await walkTree(entry.oid, file);
        else expected.set(file, entry.oid);
      }
    };
    await walkTree(rootTree, '');
    for (const [file, oid] of extras) expected.set(file, oid);
    const folders = new Set<string>();
    for (const file of expected.keys()) for (let dir = path.posix.dirname(file); dir !== '.'; dir = path.posix.dirname(dir)) folders.add(dir);
    let repaired = 0;
    const present = await fs.readdir(this.dir, { recursive: true, withFileTypes: true });
    // Deepest first, so that a folder is emptied before it is looked at.
    for (const entry of present.sort((a, b) => b.parentPath.length - a.parentPath.length)) {
      const full = path.join(entry.parentPath, entry.name);
      const file = path.relative(this.dir, full).split(path.sep).join('/');
      const wanted = entry.isDirectory() ? folders.has(file) : entry.isFile() && expected.has(file);
      if (!wanted) {
        await fs.rm(full, { recursive: true, force: true });
        repaired++;
      }
    }
    for (const [file, oid] of expected) {
      const full = path.join(this.dir, file);
      const current = await fs.readFile(full).catch(() => null);
      if (current !== null && blobId(current) === oid) continue;
      await fs.rm(full, { recursive: true, force: true });
      await fs.mkdir(path.dirname(full), { recursive: true });
      await replaceFile(full, await store.readBlob(oid), false);
      repaired++;
    }
    await this.settle();
    await replaceFile(this.marker, `${commit}\n`, false);
    return repaired;
  }
}
