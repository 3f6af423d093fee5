import type { CommitPlan, FileChange, RefChange, ServedRefs, Snapshot } from './types.ts';
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

/** A plan of `IndexRepo.update`: what to commit, decided on a snapshot. */
export type Plan<T> = (snapshot: Snapshot) => Promise<CommitPlan<T>> | CommitPlan<T>;
/** What `update` answers its caller. */
export type Answer = { commit: string | null; result: unknown; timings?: Record<string, number>; batchSize?: number };
/** A plan waiting in the queue, with its caller's promise and when it was queued. */
export type Waiting = { plan: Plan<unknown>; resolve: (answer: Answer) => void; reject: (err: unknown) => void; queued: number };
/** What a plan came to: its answer or its error, and whether commits of its batch came before it (it saw them). */
export type Outcome = { waiting: Waiting; afterCommits: boolean } & ({ value: Answer } | { error: unknown });
/** A state plans run on: `main`'s commit (null: none yet) and tree, the content refs, the objects not yet stored. */
export type PlanState = { head: string | null; tree: string; refs: RefView; pending: PendingObjects };

/**
 * Runs a batch's plans in turn, each on the state the ones before it left, as one commit each
 * (and its content refs), its objects added to `start.pending`: the steps to store, each plan's
 * outcome, and the state they leave. A plan that throws is its outcome's error, and changes
 * nothing.
 */
export async function runPlans(
  batch: Waiting[],
  start: PlanState,
  deps: { store: ObjectStore; now: () => Date; snapshot: (state: PlanState) => Snapshot },
): Promise<{ steps: Step[]; outcomes: Outcome[]; head: string | null; tree: string }> {
  const { pending } = start;
  const outcomes: Outcome[] = [];
  const steps: Step[] = [];
  let { head, tree, refs } = start;
  for (const waiting of batch) {
    try {
      const planned = await waiting.plan(deps.snapshot({ head, tree, refs, pending }));
      if (!('changes' in planned)) {
        outcomes.push({ waiting, value: { commit: null, result: planned.result }, afterCommits: steps.length > 0 });
        continue;
      }
      const refChanges = await buildRefs(deps.store, pending, refs, planned.refs ?? []);
      // A repository without commits gets its first one even from an empty list of changes.
      const wanted = planned.changes.length > 0 || head === null;
      const built = wanted ? await buildCommit(pending, head, tree, planned.message, planned.changes, deps.now()) : null;
      if (built) {
        head = built.oid;
        tree = built.tree;
      }
      if (built !== null || refChanges.length > 0) {
        steps.push({ commit: built, refs: refChanges });
        refs = refs.with(refChanges);
      }
      outcomes.push({ waiting, value: { commit: built?.oid ?? null, result: planned.result }, afterCommits: steps.length > 0 });
    } catch (err) {
      outcomes.push({ waiting, error: err, afterCommits: steps.length > 0 });
    }
  }
  return { steps, outcomes, head, tree };
}
