import { TREE_MODE, type Tree, type TreeEntry } from './git-object.ts';
import type { ObjectReader } from './object-store.ts';
import type { RefView } from './ref-view.ts';
import type { EntryInfo, ServedRefs, Snapshot } from './types.ts';

/** Serves no ref as a file. */
export const NO_SERVED_REFS: ServedRefs = { pathOf: () => null, refOf: () => null };

/**
 * A read-only view of one state: a commit of `main` (walking trees through the reader: the
 * store's cache, or objects not yet stored) and the content refs beside it.
 */
export function createSnapshot(store: ObjectReader, commit: string, rootTree: string, refs: RefView, served: ServedRefs): Snapshot {
  const root: EntryInfo = { type: 'tree', oid: rootTree };
  const step = (found: TreeEntry | undefined): EntryInfo | null => (found ? { type: found.mode === TREE_MODE ? 'tree' : 'blob', oid: found.oid } : null);
  /**
   * Walks `path` from the root through the trees in memory, and those in `read`: its entry, null
   * when there is none, or the id of the first tree on the way that has to be read.
   */
  const walk = (path: string, read: ReadonlyMap<string, Tree> | null): EntryInfo | null | { unread: string } => {
    if (path === '' || path === '/') return root;
    let current: EntryInfo | null = root;
    for (const part of path.split('/')) {
      if (current.type !== 'tree' || part === '') return null;
      const tree = read?.get(current.oid) ?? store.knownTree(current.oid);
      if (tree === undefined) return { unread: current.oid };
      current = step(tree.get(part));
      if (current === null) return null;
    }
    return current;
  };
  const entry = async (path: string): Promise<EntryInfo | null> => {
    let read: Map<string, Tree> | null = null;
    for (;;) {
      const found = walk(path, read);
      if (found === null || !('unread' in found)) return found;
      read ??= new Map();
      read.set(found.unread, await store.readTree(found.unread));
    }
  };
  /** `entry` from the trees in memory alone: undefined when one on the way would have to be read. */
  const knownEntry = (path: string): EntryInfo | null | undefined => {
    const found = walk(path, null);
    return found !== null && 'unread' in found ? undefined : found;
  };
  const servedRef = (path: string): EntryInfo | null | undefined => {
    const ref = served.refOf(path);
    if (ref === null) return undefined;
    const oid = refs.get(ref);
    return oid === null ? null : { type: 'blob', oid };
  };
  const readFile = async (path: string): Promise<Buffer | null> => {
    const found = await entry(path);
    return found?.type === 'blob' ? store.readBlob(found.oid) : null;
  };
  return {
    commit,
    entry,
    readFile,
    async readJson<T>(path: string): Promise<T | null> {
      const content = await readFile(path);
      return content === null ? null : (JSON.parse(content.toString('utf8')) as T);
    },
    async list(path: string): Promise<string[] | null> {
      const found = await entry(path);
      if (found?.type !== 'tree') return null;
      return [...(await store.readTree(found.oid)).keys()];
    },
    ref: (name) => refs.get(name),
    refs: () => refs.all(),
    async servedEntry(path: string): Promise<EntryInfo | null> {
      const byRef = servedRef(path);
      return byRef !== undefined ? byRef : entry(path);
    },
    knownServedEntry(path: string): EntryInfo | null | undefined {
      const byRef = servedRef(path);
      return byRef !== undefined ? byRef : knownEntry(path);
    },
    readBlob: (oid) => store.readBlob(oid),
  };
}
