import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { blobId, EMPTY_TREE, TREE_MODE } from './git-object.ts';
import type { ObjectReader } from './object-store.ts';

/**
 * Files served beside `main`'s tree (content refs' blobs at their paths), as a trie. Each node
 * knows when anything below it last changed (`revision`) and how many files it holds below it,
 * and remembers the folder it was last built into, so that a build descends only where
 * something changed.
 */
type ExtrasNode = { files: Map<string, string>; dirs: Map<string, ExtrasNode>; count: number; revision: number; memo: { tree: string; revision: number; key: string } | null };

const newNode = (): ExtrasNode => ({ files: new Map(), dirs: new Map(), count: 0, revision: 0, memo: null });

/** A served folder's content: its files (blob ids) and its folders (their keys), by name. */
type Listing = { files: Map<string, string>; dirs: Map<string, string> };

/** A folder's key: the SHA-1 of its listing, so that equal folders are one folder on disk. */
function keyOf(listing: Listing): string {
  const entries = [...[...listing.files].map(([name, oid]) => `f ${name}\0${oid}`), ...[...listing.dirs].map(([name, key]) => `d ${name}\0${key}`)];
  return crypto.createHash('sha1').update(`served-folder\n${entries.sort().join('\n')}`).digest('hex');
}

const KEY = /^[0-9a-f]{40}$/;
const random = () => crypto.randomBytes(6).toString('hex');

export type ServedTreeOptions = {
  /** The folder holding every built folder, each named by its key. */
  dir: string;
  /** The symbolic link a static file server serves: renamed over to switch the tree served. */
  link: string;
  store: ObjectReader;
};

/**
 * The served tree of a read replica: `main`'s files plus extra files (bundles) at their paths,
 * as plain files for any static file server, switched from one state to the next at once.
 *
 * Each folder is built once, under a name that is the hash of its content, and never changes:
 * its files are written whole, its subfolders are relative symbolic links to theirs. A new state
 * therefore costs only the folders along the paths that changed (a publish: its version's, its
 * package's, its author's, `packages/` and the root), and the switch is one rename of `link`
 * over the old one, so that a reader resolves every path in one state or the next, never a mix.
 * Folders no recent state reaches are removed by `collect`. Not safe for concurrent use: build,
 * switch and collect one at a time.
 */
export class ServedTree {
  private readonly dir: string;
  private readonly link: string;
  private readonly store: ObjectReader;
  /** Folders on disk, by key. */
  private readonly present = new Set<string>();
  /** Each built folder's subfolders, to know what a root reaches. */
  private readonly children = new Map<string, string[]>();
  /** Folders with no extra file below them are a function of their tree alone: tree id to key. */
  private readonly plain = new Map<string, string>();
  private readonly root = newNode();
  private readonly extras = new Map<string, string>();
  private revision = 0;
  private current: string | null = null;
  /** Roots that stopped being served, and when: kept a while for readers still walking them. */
  private retired: Array<{ key: string; at: number }> = [];
  /** Whether the next build reads back every file it finds on disk, rewriting any that differs. */
  private verifying = false;
  /** Whether the folder records this boot of the machine as the one its files were last checked in. */
  private bootRecorded = false;
  private written = 0;

  constructor(options: ServedTreeOptions) {
    this.dir = options.dir;
    this.link = options.link;
    this.store = options.store;
  }

  /**
   * Reads what is on disk and clears what a killed process left (temporary folders and links).
   * After a restart of the machine, folders written without a flush may have lost their content:
   * then the next build checks every file it would serve (`verifyNextBuild`).
   */
  async open(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
    for (const name of await fs.readdir(this.dir)) {
      if (KEY.test(name)) this.present.add(name);
      else if (name.startsWith('.tmp-')) await fs.rm(path.join(this.dir, name), { recursive: true, force: true });
    }
    const beside = path.dirname(this.link);
    for (const name of await fs.readdir(beside)) if (name.startsWith(`${path.basename(this.link)}.tmp-`)) await fs.rm(path.join(beside, name), { force: true });
    const target = await fs.readlink(this.link).catch(() => null);
    this.current = target !== null && KEY.test(path.basename(target)) ? path.basename(target) : null;
    this.bootRecorded = !(await this.bootChanged());
    this.verifying = this.present.size > 0 && !this.bootRecorded;
  }

  /** The key of the root served now, or null. */
  served(): string | null {
    return this.current;
  }

  /** Sets the extra files (path to blob id) of the next build; answers how many changed. */
  setExtras(files: ReadonlyMap<string, string>): number {
    let changed = 0;
    for (const [file, oid] of files) if (this.extras.get(file) !== oid) changed += this.put(file, oid);
    for (const file of [...this.extras.keys()]) if (!files.has(file)) changed += this.put(file, null);
    return changed;
  }

  private put(file: string, oid: string | null): number {
    const parts = file.split('/');
    const name = parts.pop() as string;
    const had = this.extras.has(file);
    const delta = (oid === null ? 0 : 1) - (had ? 1 : 0);
    this.revision++;
    const nodes = [this.root];
    for (const part of parts) {
      const parent = nodes.at(-1) as ExtrasNode;
      let next = parent.dirs.get(part);
      if (!next) parent.dirs.set(part, (next = newNode()));
      nodes.push(next);
    }
    for (const node of nodes) {
      node.revision = this.revision;
      node.count += delta;
    }
    const leaf = nodes.at(-1) as ExtrasNode;
    if (oid === null) {
      leaf.files.delete(name);
      this.extras.delete(file);
    } else {
      leaf.files.set(name, oid);
      this.extras.set(file, oid);
    }
    return 1;
  }

  /** Builds the folders of `rootTree` plus the extras that are not on disk yet; answers the root's key. */
  async build(rootTree: string): Promise<{ key: string; written: number }> {
    this.written = 0;
    const key = await this.folder(rootTree, this.root);
    this.verifying = false;
    if (!this.bootRecorded) {
      await this.recordBoot();
      this.bootRecorded = true;
    }
    return { key, written: this.written };
  }

  private async folder(tree: string, node: ExtrasNode | null): Promise<string> {
    const known = node === null ? this.plain.get(tree) : node.memo?.tree === tree && node.memo.revision === node.revision ? node.memo.key : undefined;
    if (known !== undefined && this.present.has(known) && !this.verifying) return known;
    const listing: Listing = { files: new Map(), dirs: new Map() };
    for (const [name, entry] of tree === EMPTY_TREE ? [] : await this.store.readTree(tree)) {
      if (entry.mode === TREE_MODE) listing.dirs.set(name, await this.folder(entry.oid, node?.dirs.get(name) ?? null));
      else listing.files.set(name, entry.oid);
    }
    if (node !== null) {
      for (const [name, child] of node.dirs) {
        if (child.count > 0 && !listing.dirs.has(name) && !listing.files.has(name)) listing.dirs.set(name, await this.folder(EMPTY_TREE, child));
      }
      for (const [name, oid] of node.files) {
        listing.dirs.delete(name);
        listing.files.set(name, oid);
      }
    }
    const key = keyOf(listing);
    await this.materialize(key, listing);
    if (node === null) this.plain.set(tree, key);
    else node.memo = { tree, revision: node.revision, key };
    return key;
  }

  /** Writes a folder under a temporary name and renames it into place, unless it is there (checked, when verifying). */
  private async materialize(key: string, listing: Listing): Promise<void> {
    this.children.set(key, [...listing.dirs.values()]);
    const final = path.join(this.dir, key);
    if (this.present.has(key)) {
      if (this.verifying) await this.repair(final, listing);
      return;
    }
    const temp = path.join(this.dir, `.tmp-${key}-${random()}`);
    await fs.mkdir(temp);
    for (const [name, oid] of listing.files) await fs.writeFile(path.join(temp, name), await this.store.readBlob(oid), { mode: 0o644 });
    for (const [name, child] of listing.dirs) await fs.symlink(`../${child}`, path.join(temp, name));
    try {
      await fs.rename(temp, final);
    } catch (err) {
      await fs.rm(temp, { recursive: true, force: true });
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    }
    this.present.add(key);
    this.written++;
  }

  /** Rewrites the files and links of a folder on disk that differ from its listing. */
  private async repair(folder: string, listing: Listing): Promise<void> {
    for (const [name, oid] of listing.files) {
      const file = path.join(folder, name);
      const content = await fs.readFile(file).catch(() => null);
      if (content !== null && blobId(content) === oid) continue;
      const temp = path.join(folder, `.tmp-${random()}`);
      await fs.writeFile(temp, await this.store.readBlob(oid), { mode: 0o644 });
      await fs.rename(temp, file);
      this.written++;
    }
    for (const [name, child] of listing.dirs) {
      const link = path.join(folder, name);
      if ((await fs.readlink(link).catch(() => null)) === `../${child}`) continue;
      await fs.rm(link, { recursive: true, force: true });
      await fs.symlink(`../${child}`, link);
      this.written++;
    }
  }

  /** Makes `key` (a root `build` answered) the tree served: a new link renamed over the old. */
  async switchTo(key: string, now: number): Promise<void> {
    if (key === this.current) return;
    const temp = `${this.link}.tmp-${random()}`;
    await fs.symlink(path.relative(path.dirname(this.link), path.join(this.dir, key)), temp);
    try {
      await fs.rename(temp, this.link);
    } catch (err) {
      await fs.rm(temp, { force: true });
      throw err;
    }
    if (this.current !== null) this.retired.push({ key: this.current, at: now });
    this.current = key;
  }

  /**
   * Removes every folder that neither the served root nor a root retired less than `graceMs`
   * ago reaches. Does nothing until the served root was built by this process (what it reaches
   * is known then). Answers how many folders it removed.
   */
  async collect(graceMs: number, now: number): Promise<number> {
    if (this.current === null || !this.children.has(this.current)) return 0;
    this.retired = this.retired.filter((root) => now - root.at < graceMs);
    const live = new Set<string>();
    const stack = [this.current, ...this.retired.map((root) => root.key)];
    for (let key = stack.pop(); key !== undefined; key = stack.pop()) {
      if (live.has(key)) continue;
      live.add(key);
      stack.push(...(this.children.get(key) ?? []));
    }
    let removed = 0;
    for (const key of [...this.present]) {
      if (live.has(key)) continue;
      await fs.rm(path.join(this.dir, key), { recursive: true, force: true });
      this.present.delete(key);
      this.children.delete(key);
      removed++;
    }
    for (const [tree, key] of this.plain) if (!live.has(key)) this.plain.delete(tree);
    return removed;
  }

  /** Whether the machine restarted since the folders were last checked (Linux's boot id; never elsewhere). */
  private async bootChanged(): Promise<boolean> {
    const now = await bootId();
    const recorded = await fs.readFile(this.bootFile(), 'utf8').catch(() => null);
    return now !== null && recorded?.trim() !== now;
  }

  private async recordBoot(): Promise<void> {
    const now = await bootId();
    if (now !== null) await fs.writeFile(this.bootFile(), `${now}\n`);
  }

  private bootFile(): string {
    return `${this.dir}.boot`;
  }
}

async function bootId(): Promise<string | null> {
  return (await fs.readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => null))?.trim() ?? null;
}
