import fs from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import { decodeTree, EMPTY_TREE, unwrapObject, type EncodedObject, type ObjectType, type Tree } from './git-object.ts';
import { PackReader } from './pack-reader.ts';
import { replaceFile, syncDir } from './durable-fs.ts';
import { Lru } from './lru.ts';

type RawObject = { type: ObjectType; content: Buffer };

export type ObjectStoreOptions = {
  /** Total entries of the parsed trees kept in memory. */
  treeCacheEntries?: number;
  /** Bytes of blob content kept in memory (index.json files and hot bundles). */
  blobCacheBytes?: number;
};

/**
 * The object database of one bare repository: reads loose and packed objects, and writes
 * loose ones durably (each object flushed before its rename, the folders flushed after),
 * so that an object file that exists is always whole.
 */
export class ObjectStore {
  private readonly objectsDir: string;
  private packs: PackReader[] = [];
  private readonly trees: Lru<string, Tree>;
  private readonly blobs: Lru<string, Buffer>;
  /** Object folders known to exist, to spare a mkdir per object. */
  private readonly knownDirs = new Set<string>();

  constructor(gitDir: string, options: ObjectStoreOptions = {}) {
    this.objectsDir = path.join(gitDir, 'objects');
    this.trees = new Lru(options.treeCacheEntries ?? 200_000, (tree) => tree.size + 1);
    this.blobs = new Lru(options.blobCacheBytes ?? 64 * 1024 * 1024, (blob) => blob.length + 64);
  }

  /** Opens the packs present now; call again after a repack (reads also do on a miss). */
  async rescanPacks(): Promise<void> {
    const dir = path.join(this.objectsDir, 'pack');
    let names: string[] = [];
    try {
      names = (await fs.readdir(dir)).filter((n) => /^pack-[0-9a-f]{40}\.pack$/.test(n)).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const kept: PackReader[] = [];
    const wanted = new Set(names.map((n) => path.join(dir, n)));
    for (const pack of this.packs) {
      if (wanted.has(pack.packFile)) {
        kept.push(pack);
        wanted.delete(pack.packFile);
      } else {
        await pack.close();
      }
    }
    for (const file of wanted) {
      try {
        kept.push(await PackReader.open(file));
      } catch (err) {
        // A pack whose index is still being written by a repack: taken at the next scan.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    this.packs = kept;
  }

  /** The names of the packs in use, for `objects/info/packs`. */
  packNames(): string[] {
    return this.packs.map((p) => path.basename(p.packFile));
  }

  async close(): Promise<void> {
    for (const pack of this.packs) await pack.close();
    this.packs = [];
  }

  private loosePath(oid: string): string {
    return path.join(this.objectsDir, oid.slice(0, 2), oid.slice(2));
  }

  private async readLoose(oid: string): Promise<RawObject | null> {
    let file: Buffer;
    try {
      file = await fs.readFile(this.loosePath(oid));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    return unwrapObject(zlib.inflateSync(file));
  }

  private async readPacked(oid: string): Promise<RawObject | null> {
    for (const pack of this.packs) {
      const offset = pack.offsetOf(oid);
      if (offset !== null) return pack.readAt(offset, (base) => this.read(base));
    }
    return null;
  }

  async read(oid: string): Promise<RawObject> {
    const found = (await this.readLoose(oid)) ?? (await this.readPacked(oid));
    if (found) return found;
    // A repack may have moved it into a new pack since the last scan.
    await this.rescanPacks();
    const packed = (await this.readPacked(oid)) ?? (await this.readLoose(oid));
    if (!packed) throw new Error(`object ${oid} is missing`);
    return packed;
  }

  async readTree(oid: string): Promise<Tree> {
    if (oid === EMPTY_TREE) return new Map();
    const cached = this.trees.get(oid);
    if (cached) return cached;
    const { type, content } = await this.read(oid);
    if (type !== 'tree') throw new Error(`object ${oid} is a ${type}, not a tree`);
    const tree = decodeTree(content);
    this.trees.set(oid, tree);
    return tree;
  }

  /** Remembers a tree this process has just written, so that it is never read back. */
  rememberTree(oid: string, tree: Tree): void {
    this.trees.set(oid, tree);
  }

  async readBlob(oid: string): Promise<Buffer> {
    const cached = this.blobs.get(oid);
    if (cached) return cached;
    const { type, content } = await this.read(oid);
    if (type !== 'blob') throw new Error(`object ${oid} is a ${type}, not a blob`);
    this.blobs.set(oid, content);
    return content;
  }

  /** Writes one loose object; true when it had to create the object's folder. */
  private async writeLoose(object: EncodedObject): Promise<boolean> {
    const file = this.loosePath(object.oid);
    const dir = path.dirname(file);
    const data = zlib.deflateSync(object.wrapped, { level: 1 });
    let created = false;
    for (let attempt = 0; ; attempt++) {
      try {
        if (!this.knownDirs.has(dir)) {
          created = (await fs.mkdir(dir, { recursive: true })) !== undefined || created;
          this.knownDirs.add(dir);
        }
        await replaceFile(file, data, true);
        return created;
      } catch (err) {
        // `git prune-packed` (after a repack) removes the object folders it empties, even
        // one this process has just made: make it again.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 5) throw err;
        this.knownDirs.delete(dir);
      }
    }
  }

  /**
   * Stores the objects in parallel, and returns once every one of them is on disk (content flushed, then renamed into place, then the folders flushed).
   */
  async writeAll(objects: EncodedObject[]): Promise<number> {
    // Every object of a commit is new but for rare repeats (two versions with the same
    // gren.json): writing a repeat again is harmless, and cheaper than asking for each.
    const missing = objects;
    const created = await Promise.all(missing.map((object) => this.writeLoose(object)));
    const dirs = new Set(missing.map((object) => path.dirname(this.loosePath(object.oid))));
    // A folder gone by now was emptied by `git prune-packed`: its objects are in a flushed pack.
    await Promise.all([...dirs].map((dir) => syncDir(dir).catch(ignoreMissing)));
    if (created.includes(true)) await syncDir(this.objectsDir);
    return missing.length;
  }
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}
