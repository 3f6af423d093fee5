import fs from 'node:fs/promises';
import path from 'node:path';
import { blobId, TREE_MODE } from './git-object.ts';
import type { ObjectStore } from './object-store.ts';
import { replaceFile } from './durable-fs.ts';
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
   * A crash before the marker is rewritten leaves it naming an older commit than `main`.
   */
  async apply(changes: FileChange[], commit: string): Promise<void> {
    for (const change of changes) {
      if ('delete' in change) continue;
      const file = path.join(this.dir, change.path);
      const dir = path.dirname(file);
      if (!this.knownDirs.has(dir)) {
        await fs.mkdir(dir, { recursive: true });
        this.knownDirs.add(dir);
      }
      await replaceFile(file, change.content, false);
    }
    for (const change of changes) {
      if ('delete' in change) await this.remove(change.path);
    }
    await replaceFile(this.marker, `${commit}\n`, false);
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
    await replaceFile(this.marker, `${commit}\n`, false);
    return repaired;
  }
}
