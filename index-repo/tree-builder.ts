import { changedTree, encodeObject, encodeTree, encodeTreeFrom, EMPTY_TREE, FILE_MODE, TREE_MODE, type EncodedObject, type Tree, type TreeEntry } from './git-object.ts';
import type { ObjectReader } from './object-store.ts';
import type { FileChange } from './types.ts';
import { asBuffer } from './buffers.ts';

/** A file change as the tree builder takes it: new content, a deletion, or an object the store holds already. */
export type TreeChange = FileChange | { path: string; oid: string; mode?: string };

/** What a file of a folder becomes: new content, an existing object, or nothing (deleted). */
type FileValue = Uint8Array | { oid: string; mode: string } | null;

/** The changes below one folder: files set or deleted here, and sub-folders. */
type Node = { files: Map<string, FileValue>; dirs: Map<string, Node> };

const newNode = (): Node => ({ files: new Map(), dirs: new Map() });

/** Checks a path the way Git would store it: relative, `/`-separated, no empty, `.` or `..` part. */
export function checkPath(path: string): string[] {
  const parts = path.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..' || p === '.git' || p.includes('\0'))) {
    throw new Error(`invalid path in the index: "${path}"`);
  }
  return parts;
}

function groupChanges(changes: TreeChange[]): Node {
  const root = newNode();
  for (const change of changes) {
    const parts = checkPath(change.path);
    const name = parts.pop() as string;
    let node = root;
    for (const part of parts) {
      let next = node.dirs.get(part);
      if (!next) node.dirs.set(part, (next = newNode()));
      node = next;
    }
    node.files.set(name, 'delete' in change ? null : 'oid' in change ? { oid: change.oid, mode: change.mode ?? FILE_MODE } : change.content);
  }
  return root;
}

export type BuiltTree = {
  oid: string;
  /** The new objects to store: blobs and trees. */
  objects: EncodedObject[];
  /** The new trees, parsed, and the new blobs' content: readable before they are stored. */
  trees: Map<string, Tree>;
  blobs: Map<string, Buffer>;
};

/**
 * Builds a whole new tree of `files` (no existing tree to read: every object is new), such as
 * the source tree of a version. Every object of it is returned, even one the store may hold
 * already, so that the pack it goes into is whole on its own.
 */
export function buildTreeSync(files: Array<{ path: string; content: Uint8Array }>): BuiltTree {
  const objects: EncodedObject[] = [];
  const trees = new Map<string, Tree>();
  const blobs = new Map<string, Buffer>();
  const build = (node: Node): string => {
    const tree = new Map<string, TreeEntry>();
    for (const [name, content] of node.files) {
      if (content === null) continue;
      if ('oid' in content) {
        tree.set(name, { mode: content.mode, oid: content.oid });
        continue;
      }
      const blob = encodeObject('blob', content);
      objects.push(blob);
      blobs.set(blob.oid, asBuffer(content));
      tree.set(name, { mode: FILE_MODE, oid: blob.oid });
    }
    for (const [name, child] of node.dirs) tree.set(name, { mode: TREE_MODE, oid: build(child) });
    const encoded = encodeObject('tree', encodeTree(tree));
    objects.push(encoded);
    trees.set(encoded.oid, tree);
    return encoded.oid;
  };
  const oid = build(groupChanges(files));
  return { oid, objects, trees, blobs };
}

/**
 * Applies file changes to a tree, touching only the folders on the changed paths (the rest of
 * the tree is shared by id), and returns the new root's id with the objects to store. Folders
 * left empty disappear, as in Git.
 */
export async function buildTree(store: ObjectReader, rootOid: string, changes: TreeChange[]): Promise<BuiltTree> {
  const objects: EncodedObject[] = [];
  const trees = new Map<string, Tree>();
  const blobs = new Map<string, Buffer>();
  const rebuild = async (oid: string | null, node: Node): Promise<string | null> => {
    const base = oid ? await store.readTree(oid) : null;
    // The entries this folder's changes give (null: removed), read before `base`'s.
    const changed = new Map<string, TreeEntry | null>();
    const current = (name: string) => (changed.has(name) ? (changed.get(name) ?? undefined) : base?.get(name));
    for (const [name, content] of node.files) {
      if (content === null) {
        if (current(name)?.mode !== TREE_MODE) changed.set(name, null);
        continue;
      }
      if ('oid' in content) {
        changed.set(name, { mode: content.mode, oid: content.oid });
        continue;
      }
      const blob = encodeObject('blob', content);
      objects.push(blob);
      blobs.set(blob.oid, Buffer.from(content));
      changed.set(name, { mode: FILE_MODE, oid: blob.oid });
    }
    for (const [name, child] of node.dirs) {
      const existing = current(name);
      const childOid = await rebuild(existing?.mode === TREE_MODE ? existing.oid : null, child);
      changed.set(name, childOid === null ? null : { mode: TREE_MODE, oid: childOid });
    }
    const tree = changedTree(base, changed);
    if (tree.size === 0) return null;
    const encoded = encodeObject('tree', encodeTreeFrom(base, tree, changed.keys()));
    objects.push(encoded);
    trees.set(encoded.oid, tree);
    return encoded.oid;
  };
  const oid = await rebuild(rootOid === EMPTY_TREE ? null : rootOid, groupChanges(changes));
  if (oid === null) {
    const empty = encodeObject('tree', Buffer.alloc(0));
    return { oid: empty.oid, objects: [empty], trees: new Map([[empty.oid, new Map()]]), blobs };
  }
  return { oid, objects, trees, blobs };
}
