import { TREE_MODE } from './git-object.ts';
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
  const entry = async (path: string): Promise<EntryInfo | null> => {
    if (path === '' || path === '/') return { type: 'tree', oid: rootTree };
    let current: EntryInfo = { type: 'tree', oid: rootTree };
    for (const part of path.split('/')) {
      if (current.type !== 'tree' || part === '') return null;
      const found = (await store.readTree(current.oid)).get(part);
      if (!found) return null;
      current = { type: found.mode === TREE_MODE ? 'tree' : 'blob', oid: found.oid };
    }
    return current;
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
      const ref = served.refOf(path);
      if (ref !== null) {
        const oid = refs.get(ref);
        return oid === null ? null : { type: 'blob', oid };
      }
      return entry(path);
    },
    readBlob: (oid) => store.readBlob(oid),
  };
}
