import type { EncodedObject, Tree } from './git-object.ts';
import type { ObjectReader, ObjectStore } from './object-store.ts';
import type { BuiltTree } from './tree-builder.ts';
import { asBuffer } from './buffers.ts';

/**
 * The objects of commits built but not yet stored: plans later in the same batch read through
 * them, so that each sees the commits before it.
 */
export class PendingObjects implements ObjectReader {
  private readonly store: ObjectStore;
  /** The objects of batches built before this one and not yet stored when it began, newest last. */
  private earlier: PendingObjects[];
  private readonly trees = new Map<string, Tree>();
  private readonly blobs = new Map<string, Buffer>();
  readonly objects: EncodedObject[] = [];

  constructor(store: ObjectStore, earlier: PendingObjects[] = []) {
    this.store = store;
    this.earlier = earlier;
  }

  /** A tree or blob of this batch or of one before it not yet stored (its own maps only: no chain). */
  private own<T>(pick: (pending: PendingObjects) => T | undefined): T | undefined {
    const found = pick(this);
    if (found !== undefined) return found;
    for (let i = this.earlier.length - 1; i >= 0; i--) {
      const earlier = pick(this.earlier[i] as PendingObjects);
      if (earlier !== undefined) return earlier;
    }
    return undefined;
  }

  /** Adds the objects of a built tree, and the commit (or other objects) that name it. */
  add(built: BuiltTree, ...more: EncodedObject[]): void {
    for (const [oid, tree] of built.trees) this.trees.set(oid, tree);
    for (const [oid, blob] of built.blobs) this.blobs.set(oid, blob);
    this.objects.push(...built.objects, ...more);
  }

  /** Adds a blob, readable at once. */
  addBlob(blob: EncodedObject, content: Uint8Array): void {
    this.blobs.set(blob.oid, asBuffer(content));
    this.objects.push(blob);
  }

  readTree(oid: string): Promise<Tree> {
    const tree = this.knownTree(oid);
    return tree ? Promise.resolve(tree) : this.store.readTree(oid);
  }

  knownTree(oid: string): Tree | undefined {
    return this.own((pending) => pending.trees.get(oid)) ?? this.store.knownTree(oid);
  }

  readBlob(oid: string): Promise<Buffer> {
    const blob = this.own((pending) => pending.blobs.get(oid));
    return blob ? Promise.resolve(blob) : this.store.readBlob(oid);
  }

  /**
   * Once stored, the new trees go to the store's cache, so that they are never read back, and
   * this batch lets go of what it held: the store answers for its objects now. Batches built on it
   * keep a reference to it; without this, each would hold every batch before it while publishes
   * keep coming, and memory would grow with them.
   */
  stored(): void {
    for (const [oid, tree] of this.trees) this.store.rememberTree(oid, tree);
    this.trees.clear();
    this.blobs.clear();
    this.objects.length = 0;
    this.earlier = [];
  }
}
