import fs from 'node:fs/promises';
import path from 'node:path';
import { blobId, TREE_MODE } from './git-object.ts';
import type { ObjectStore } from './object-store.ts';
import { replaceFile, writeTemp } from './durable-fs.ts';
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

  constructor(dir: string) {
    this.dir = dir;
    this.marker = `${dir}.commit`;
  }

  async servedCommit(): Promise<string | null> {
    try {
      return (await fs.readFile(this.marker, 'utf8')).trim();
    } catch {
      return null;
    }
  }

  /**
   * Applies one commit's changes: writes in the order given, then deletions, then the marker.
   * The marker is written after the folder changed, without holding up the commit: if it is
   * not written (a crash, a full disk), it names an older commit than `main`, and the next
   * start repairs the folder, which is all the marker is for.
   */
  async apply(changes: FileChange[], commit: string): Promise<void> {
    const writes = changes.filter((c): c is { path: string; content: Uint8Array } => !('delete' in c));
    // The new contents go to temporary files side by side, then are renamed in the order given.
    const temps = await Promise.all(
      writes.map(async (change) => {
        const file = path.join(this.dir, change.path);
        await this.ensureDir(path.dirname(file));
        return { file, temp: await writeTemp(file, change.content) };
      }),
    );
    for (const { file, temp } of temps) await fs.rename(temp, file);
    for (const change of changes) {
      if ('delete' in change) await this.remove(change.path);
    }
    this.markerWrites = this.markerWrites.then(() => replaceFile(this.marker, `${commit}\n`, false)).catch(() => undefined);
  }

  /** Waits for the marker writes under way. */
  settle(): Promise<void> {
    return this.markerWrites;
  }

  private async ensureDir(dir: string): Promise<void> {
    if (this.knownDirs.has(dir)) return;
    await fs.mkdir(dir, { recursive: true });
    this.knownDirs.add(dir);
  }

  /** Removes a file and the folders it leaves empty, as Git's tree does. */
  private async remove(relative: string): Promise<void> {
    this.knownDirs.clear();
    await fs.rm(path.join(this.dir, relative), { force: true });
    let dir = path.dirname(relative);
    while (dir !== '.') {
      try {
        await fs.rmdir(path.join(this.dir, dir));
      } catch {
        return;
      }
      dir = path.dirname(dir);
    }
  }

  /**
   * Makes the folder equal to the tree `rootTree`: rewrites every file whose content differs,
   * removes what the tree does not hold. Returns how many paths it repaired.
   */
  async reconcile(store: ObjectStore, rootTree: string, commit: string): Promise<number> {
    this.knownDirs.clear();
    await fs.mkdir(this.dir, { recursive: true });
    let repaired = 0;
    const walk = async (treeOid: string, relative: string): Promise<void> => {
      const tree = await store.readTree(treeOid);
      const dir = path.join(this.dir, relative);
      let present: string[] = [];
      try {
        present = await fs.readdir(dir);
      } catch {
        await fs.mkdir(dir, { recursive: true });
      }
      for (const name of present) {
        const entry = tree.get(name);
        if (!entry) {
          await fs.rm(path.join(dir, name), { recursive: true, force: true });
          repaired++;
        }
      }
      for (const [name, entry] of tree) {
        const file = path.join(dir, name);
        if (entry.mode === TREE_MODE) {
          const stat = await fs.lstat(file).catch(() => null);
          if (stat && !stat.isDirectory()) {
            await fs.rm(file, { force: true });
            repaired++;
          }
          await walk(entry.oid, path.join(relative, name));
          continue;
        }
        const current = await fs.readFile(file).catch(() => null);
        if (current !== null && blobId(current) === entry.oid) continue;
        await fs.rm(file, { recursive: true, force: true });
        await replaceFile(file, await store.readBlob(entry.oid), false);
        repaired++;
      }
    };
    await walk(rootTree, '');
    await this.settle();
    await replaceFile(this.marker, `${commit}\n`, false);
    return repaired;
  }
}
