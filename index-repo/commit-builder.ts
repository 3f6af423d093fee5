import type { FileChange, RefChange, ServedRefs } from './types.ts';
import { encodeCommit, encodeObject } from './git-object.ts';
import type { ObjectStore } from './object-store.ts';
import type { PendingObjects } from './pending-objects.ts';
import type { RefView } from './ref-view.ts';
import { buildTree, buildTreeSync } from './tree-builder.ts';

// Building a plan's commit and content refs as objects (kept in the batch's `PendingObjects`),
// and what a batch of them changes: the refs to set and delete, the served folder's files.

const AUTHOR = 'Gren Registry <registry@localhost>';

export type BuiltCommit = { oid: string; tree: string; message: string; changes: FileChange[] };
/** What one plan changed: a commit of `main`, content refs (null: deleted), or both. */
export type Step = { commit: BuiltCommit | null; refs: Array<[string, string | null]> };

/** Builds the objects of content ref changes; returns the changes that change something. */
export async function buildRefs(store: ObjectStore, pending: PendingObjects, refs: RefView, changes: RefChange[]): Promise<Array<[string, string | null]>> {
  const built: Array<[string, string | null]> = [];
  const seen = new Set<string>();
  for (const change of changes) {
    if (seen.has(change.ref)) throw new Error(`content ref ${change.ref} is changed twice in one plan`);
    seen.add(change.ref);
    let oid: string | null;
    if ('delete' in change) oid = null;
    else if ('object' in change) {
      if (!(await store.has(change.object))) throw new Error(`${change.ref}: object ${change.object} is not in the repository`);
      oid = change.object;
    } else if ('blob' in change) {
      const blob = encodeObject('blob', change.blob);
      pending.addBlob(blob, change.blob);
      oid = blob.oid;
    } else {
      oid = buildRootCommit(pending, change.commit);
    }
    if (refs.get(change.ref) !== oid) built.push([change.ref, oid]);
  }
  return built;
}

/** A commit without parents holding exactly `files`: nothing but its ref keeps it reachable. */
function buildRootCommit(pending: PendingObjects, commit: Extract<RefChange, { commit: unknown }>['commit']): string {
  const tree = buildTreeSync(commit.files);
  const encoded = encodeObject('commit', encodeCommit({ tree: tree.oid, parents: [], author: AUTHOR, message: commit.message, time: commit.time }));
  pending.add(tree, encoded);
  return encoded.oid;
}

/** Builds one commit of `changes` over `tree`, dated `time`, or null when the tree would not change. */
export async function buildCommit(pending: PendingObjects, parent: string | null, tree: string, message: string, changes: FileChange[], time: Date): Promise<BuiltCommit | null> {
  const built = await buildTree(pending, tree, changes);
  if (parent !== null && built.oid === tree) return null;
  const commit = encodeObject('commit', encodeCommit({ tree: built.oid, parents: parent ? [parent] : [], author: AUTHOR, message, time }));
  pending.add(built, commit);
  return { oid: commit.oid, tree: built.oid, message, changes };
}

/** The refs `steps` set (to an object they did not name in `stored`) and delete (that existed). */
export function netRefChanges(steps: Step[], stored: ReadonlyMap<string, string>): { creates: Map<string, string>; deletes: string[] } {
  const net = new Map<string, string | null>();
  for (const step of steps) for (const [ref, oid] of step.refs) net.set(ref, oid);
  const creates = new Map<string, string>();
  const deletes: string[] = [];
  for (const [ref, oid] of net) {
    const before = stored.get(ref) ?? null;
    if (oid === before) continue;
    if (oid === null) deletes.push(ref);
    else creates.set(ref, oid);
  }
  return { creates, deletes };
}

/**
 * The served folder's changes of a batch, in the order readers should see them: the files of
 * served content refs (bundles) first, then each commit's files (its plan's order).
 */
export async function servedChanges(servedRefs: ServedRefs, pending: PendingObjects, steps: Step[]): Promise<FileChange[]> {
  const fromRefs: FileChange[] = [];
  const fromCommits: FileChange[] = [];
  for (const step of steps) {
    for (const [ref, oid] of step.refs) {
      const file = servedRefs.pathOf(ref);
      if (file === null) continue;
      fromRefs.push(oid === null ? { path: file, delete: true } : { path: file, content: await pending.readBlob(oid) });
    }
    if (step.commit) fromCommits.push(...step.commit.changes);
  }
  return [...fromRefs, ...fromCommits];
}
