import fs from 'node:fs/promises';
import fsSync from 'node:fs';
import crypto from 'node:crypto';
import path from 'node:path';
import zlib from 'node:zlib';
import { decodeTree, EMPTY_TREE, unwrapObject, type ObjectType, type Tree } from './git-object.ts';
import { BrokenPackError, PackReader } from './pack-reader.ts';
import { syncDir, tempPathFor, writeFlushed } from './durable-fs.ts';
import type { EncodedPack } from './pack-writer.ts';
import { Lru } from './lru.ts';

type RawObject = { type: ObjectType; content: Buffer };

/** What the `.keep` files of packs whose commit is under way say (Git ignores the content). */
const KEEP_NOTE = 'gren-registry: the commit of this pack is under way\n';

/** Whether a file's last 20 bytes are the SHA-1 of the rest (packs and pack indexes end so), and, for a pack, its name. */
function checksummed(file: string, expected?: string): boolean {
  let bytes: Buffer;
  try {
    bytes = fsSync.readFileSync(file);
  } catch {
    return false;
  }
  if (bytes.length < 20) return false;
  const sum = crypto.createHash('sha1').update(bytes.subarray(0, bytes.length - 20)).digest();
  return sum.equals(bytes.subarray(bytes.length - 20)) && (expected === undefined || sum.toString('hex') === expected);
}

/** The empty tree, which no repository needs to hold. */
const EMPTY: Tree = new Map();

const isWholePack = (file: string, name: string) => checksummed(file, name);
const isWholeIndex = (file: string) => checksummed(file);

/** A pack written and flushed under temporary names: see `ObjectStore.preparePack`. */
export type PreparedPack = {
  /** The pack folder, to flush once installed. */
  dir: string;
  install(): Promise<void>;
  release(): Promise<void>;
  discard(): Promise<void>;
};

/** What reading trees and files needs: the store, or objects of commits not yet stored over it. */
export type ObjectReader = {
  readTree(oid: string): Promise<Tree>;
  /** The tree when it is in memory (parsed already, or not yet stored), without reading; else undefined. */
  knownTree(oid: string): Tree | undefined;
  readBlob(oid: string): Promise<Buffer>;
};

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
export class ObjectStore implements ObjectReader {
  private readonly objectsDir: string;
  private packs: PackReader[] = [];
  private readonly trees: Lru<string, Tree>;
  private readonly blobs: Lru<string, Buffer>;
  private packDirReady = false;

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
        pack.close();
      }
    }
    for (const file of wanted) {
      try {
        kept.push(PackReader.open(file));
      } catch (err) {
        // A pack whose index is still being written by a repack: taken at the next scan. One
        // whose index a crash cut short holds nothing anyone needs once the log is replayed:
        // removed at the next open (`removeOrphanPacks`).
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && !(err instanceof BrokenPackError)) throw err;
      }
    }
    this.packs = kept;
  }

  /** The names of the packs in use. */
  packNames(): string[] {
    return this.packs.map((p) => path.basename(p.packFile));
  }

  async close(): Promise<void> {
    for (const pack of this.packs) pack.close();
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

  /** Whether the store holds an object, loose or packed. */
  async has(oid: string): Promise<boolean> {
    if (this.packs.some((pack) => pack.offsetOf(oid) !== null)) return true;
    if (await fs.access(this.loosePath(oid)).then(() => true, () => false)) return true;
    await this.rescanPacks();
    return this.packs.some((pack) => pack.offsetOf(oid) !== null);
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
    const known = this.knownTree(oid);
    if (known) return known;
    const { type, content } = await this.read(oid);
    if (type !== 'tree') throw new Error(`object ${oid} is a ${type}, not a tree`);
    const tree = decodeTree(content);
    this.trees.set(oid, tree);
    return tree;
  }

  knownTree(oid: string): Tree | undefined {
    return oid === EMPTY_TREE ? EMPTY : this.trees.get(oid);
  }

  /** Remembers a tree this process has just stored, so that it is never read back. */
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

  /**
   * Stores objects as one new pack (from `encodePack`), in two steps. First the pack and its
   * index are written to temporary names and flushed together, and a `.keep` file is put beside
   * the pack's name, so that a `git repack -a -d` running meanwhile leaves it alone until its
   * refs exist. Then `install` renames them into place, pack first (Git finds packs by their
   * index, so never an index without its pack), and the store reads from it; the caller flushes
   * the folder (`dir`) with the other folders of its commit, and calls `release` once the refs
   * that keep the objects reachable are in place.
   */
  async preparePack({ name, pack, idx }: EncodedPack): Promise<PreparedPack> {
    const dir = path.join(this.objectsDir, 'pack');
    if (!this.packDirReady) {
      await fs.mkdir(dir, { recursive: true });
      this.packDirReady = true;
    }
    const packFile = path.join(dir, `pack-${name}.pack`);
    const idxFile = path.join(dir, `pack-${name}.idx`);
    const keepFile = path.join(dir, `pack-${name}.keep`);
    const [packTemp, idxTemp] = await Promise.all([writeFlushed(packFile, pack), writeFlushed(idxFile, idx), fs.writeFile(keepFile, KEEP_NOTE)]);
    return {
      dir,
      install: async () => {
        await fs.rename(packTemp, packFile);
        await fs.rename(idxTemp, idxFile);
        this.packs.push(PackReader.open(packFile, idx));
      },
      release: () => fs.rm(keepFile, { force: true }),
      discard: () => Promise.all([packTemp, idxTemp, keepFile].map((file) => fs.rm(file, { force: true }))).then(() => undefined),
    };
  }

  /** Puts a pack in place without flushing it: see `placePack`. */
  placePack(encoded: EncodedPack, touched: Set<string>, reuse = false): PlacedPack {
    if (!this.packDirReady) {
      fsSync.mkdirSync(path.join(this.objectsDir, 'pack'), { recursive: true });
      this.packDirReady = true;
    }
    return placePack(this.objectsDir, encoded, touched, reuse);
  }

  /** Reads from a pack `placePack` put in place (its index given, so that it is not read back). */
  async adoptPack(name: string, idx: Buffer): Promise<void> {
    const packFile = path.join(this.objectsDir, 'pack', `pack-${name}.pack`);
    if (this.packs.some((pack) => pack.packFile === packFile)) return;
    this.packs.push(PackReader.open(packFile, idx));
  }

  /** Stores objects as one new pack, durably, in one step (see `preparePack`). */
  async writePack(encoded: EncodedPack): Promise<void> {
    const prepared = await this.preparePack(encoded);
    await prepared.install();
    await syncDir(prepared.dir);
    await prepared.release();
  }

  /**
   * Removes what a crash left in the pack folder: a pack without its index (a crash between the
   * two renames: its objects are in no commit, or still in the packs a repack was merging), a
   * pack whose index a power cut tore (after the commit log is replayed, which rewrites every
   * pack a logged commit needs), and git's own temporary files. Only while no repack runs (see
   * `stopStaleRepack`).
   */
  async removeOrphanPacks(): Promise<number> {
    const dir = path.join(this.objectsDir, 'pack');
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch {
      return 0;
    }
    const broken = (n: string) => n.endsWith('.idx') && !isWholeIndex(path.join(dir, n));
    const orphans = names.filter((n) => (n.endsWith('.pack') && (!names.includes(n.replace(/\.pack$/, '.idx')) || broken(n.replace(/\.pack$/, '.idx')))) || /^tmp_(pack|idx|rev)_/.test(n));
    for (const orphan of [...orphans]) if (orphan.endsWith('.pack')) orphans.push(orphan.replace(/\.pack$/, '.idx'));
    for (const orphan of orphans) await fs.rm(path.join(dir, orphan), { force: true });
    // Keep files of commits that never finished: their packs are whole, or gone above.
    let kept = 0;
    for (const name of names.filter((n) => n.endsWith('.keep'))) {
      const file = path.join(dir, name);
      if ((await fs.readFile(file, 'utf8').catch(() => '')) === KEEP_NOTE) {
        await fs.rm(file, { force: true });
        kept++;
      }
    }
    return orphans.length + kept;
  }
}


/** A pack put in place by `placePack`: its `.keep` file, to remove once refs name its objects. */
export type PlacedPack = { keep: string; discard(): void };

/**
 * Puts a pack in the pack folder of `objectsDir` (which exists) without flushing it (the commit
 * log has it): written to temporary names and renamed, pack first, with a `.keep` file beside it
 * (see `ObjectStore.preparePack`) that the caller removes once the refs naming its objects are in
 * place; until then its objects are unreachable and harmless. When `reuse` is set, a pack already
 * in place whose checksums are right is kept as it is (replaying a log after a crash). The files
 * and folder written go to `touched`. A function of the files alone, so that the writer thread
 * (see `writer-thread.ts`) places packs without an object store.
 */
export function placePack(objectsDir: string, { name, pack, idx }: EncodedPack, touched: Set<string>, reuse = false): PlacedPack {
  const dir = path.join(objectsDir, 'pack');
  const packFile = path.join(dir, `pack-${name}.pack`);
  const idxFile = path.join(dir, `pack-${name}.idx`);
  const keep = path.join(dir, `pack-${name}.keep`);
  const written: string[] = [keep];
  const discard = () => {
    for (const file of written) fsSync.rmSync(file, { force: true });
  };
  try {
    fsSync.writeFileSync(keep, KEEP_NOTE);
    if (!(reuse && isWholePack(packFile, name) && isWholeIndex(idxFile))) {
      for (const [file, bytes] of [[packFile, pack], [idxFile, idx]] as const) {
        const temp = tempPathFor(file);
        written.push(temp);
        fsSync.writeFileSync(temp, bytes, { flag: 'wx', mode: 0o444 });
        fsSync.renameSync(temp, file);
        written.push(file);
      }
    }
  } catch (err) {
    discard();
    throw err;
  }
  touched.add(packFile).add(idxFile).add(dir);
  return { keep, discard };
}
