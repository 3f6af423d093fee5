import { EMPTY_TREE, TREE_MODE, encodeObject, type Tree } from './git-object.ts';
import type { ObjectStore, PreparedPack } from './object-store.ts';
import { encodePack } from './pack-writer.ts';
import { prepareMain } from './refs.ts';
import { markPurgeOwed } from './marks.ts';
import { syncDir } from './durable-fs.ts';
import { PendingObjects } from './pending-objects.ts';
import { buildTree, type TreeChange } from './tree-builder.ts';

/** Commits rewritten between two packs written: bounds the memory a long history needs. */
const CHUNK = 500;

/** The ids of `head` and its first parents, oldest first. */
async function firstParentChain(store: ObjectStore, head: string): Promise<Array<{ oid: string; raw: Buffer; tree: string }>> {
  const chain: Array<{ oid: string; raw: Buffer; tree: string }> = [];
  let next: string | null = head;
  while (next !== null) {
    const { type, content } = await store.read(next);
    if (type !== 'commit') throw new Error(`${next} is a ${type}, not a commit`);
    const header = content.subarray(0, content.indexOf('\n\n')).toString('utf8').split('\n');
    const tree = header.find((line) => line.startsWith('tree '))?.slice(5) ?? '';
    chain.push({ oid: next, raw: content, tree });
    next = header.find((line) => line.startsWith('parent '))?.slice(7) ?? null;
  }
  return chain.reverse();
}

/**
 * The file changes from tree `before` (null: nothing) to tree `after`, walking only the folders
 * whose ids differ, as paths below `prefix`. Files `keep` refuses are left out.
 */
async function diffTrees(store: ObjectStore, before: string | null, after: string | null, prefix: string, keep: (path: string) => boolean, out: TreeChange[]): Promise<void> {
  const empty: Tree = new Map();
  const a = before ? await store.readTree(before) : empty;
  const b = after ? await store.readTree(after) : empty;
  for (const name of new Set([...a.keys(), ...b.keys()])) {
    const was = a.get(name);
    const now = b.get(name);
    if (was && now && was.oid === now.oid && was.mode === now.mode) continue;
    const path = prefix === '' ? name : `${prefix}/${name}`;
    const wasTree = was?.mode === TREE_MODE;
    const nowTree = now?.mode === TREE_MODE;
    if (was && !wasTree && keep(path) && (!now || nowTree)) out.push({ path, delete: true });
    if (wasTree || nowTree) await diffTrees(store, wasTree ? (was?.oid ?? null) : null, nowTree ? (now?.oid ?? null) : null, path, keep, out);
    if (now && !nowTree && keep(path)) out.push({ path, oid: now.oid });
  }
}

/** A commit's raw content with its tree and parent replaced; every other byte (author, dates, message) kept. */
function rewriteCommit(raw: Buffer, tree: string, parent: string | null): Buffer {
  const split = raw.indexOf('\n\n');
  const header = raw.subarray(0, split).toString('utf8').split('\n');
  const rest = header.filter((line) => !line.startsWith('tree ') && !line.startsWith('parent '));
  const lines = [`tree ${tree}`, ...(parent ? [`parent ${parent}`] : []), ...rest];
  return Buffer.concat([Buffer.from(lines.join('\n')), raw.subarray(split)]);
}

/**
 * Rewrites the first-parent history ending at `head` without the files `keep` refuses: every
 * commit is kept, in order, with its author, dates and message byte for byte; only its tree
 * (and so its id) changes. New objects go to the store through `store` in packs of a few
 * hundred commits. Rewriting a history that holds no refused file gives back the same ids.
 */
export async function rewriteHistory(
  objects: ObjectStore,
  head: string,
  keep: (path: string) => boolean,
  store: (pending: PendingObjects) => Promise<void>,
): Promise<{ commit: string; tree: string; commits: number }> {
  const chain = await firstParentChain(objects, head);
  let pending = new PendingObjects(objects);
  let oldParentTree: string | null = null;
  let newTree = EMPTY_TREE;
  let newCommit: string | null = null;
  for (const [i, commit] of chain.entries()) {
    const changes: TreeChange[] = [];
    await diffTrees(objects, oldParentTree, commit.tree, '', keep, changes);
    const built = await buildTree(pending, newTree, changes);
    const encoded = encodeObject('commit', rewriteCommit(commit.raw, built.oid, newCommit));
    pending.add(built, encoded);
    oldParentTree = commit.tree;
    newTree = built.oid;
    newCommit = encoded.oid;
    if ((i + 1) % CHUNK === 0) {
      await store(pending);
      pending = new PendingObjects(objects);
    }
  }
  if (pending.objects.length > 0) await store(pending);
  if (newCommit === null) throw new Error(`${head} has no history`);
  return { commit: newCommit, tree: newTree, commits: chain.length };
}

/**
 * Replaces the history of `main` (at `head`) by the same commits without the files `keep`
 * refuses (`rewriteHistory`): the new objects are stored as packs, each flushed and kept
 * (`.keep`) from any purge; when the history changed, a purge is marked owed, `main` moves
 * (flushed), and `moved` brings the caller's state along. The packs are let go of after that.
 */
export async function replaceMain(
  gitDir: string,
  objects: ObjectStore,
  head: string,
  keep: (path: string) => boolean,
  moved: (result: { commit: string; tree: string; commits: number }) => Promise<void>,
): Promise<{ commit: string; tree: string; commits: number }> {
  const packs: PreparedPack[] = [];
  const writeChunk = async (pending: PendingObjects) => {
    const pack = await objects.preparePack(encodePack(pending.objects));
    packs.push(pack);
    await pack.install();
    await syncDir(pack.dir);
    pending.stored();
  };
  try {
    const result = await rewriteHistory(objects, head, keep, writeChunk);
    if (result.commit !== head) {
      await markPurgeOwed(gitDir);
      const main = await prepareMain(gitDir, result.commit);
      await main.move();
      await moved(result);
    }
    return result;
  } finally {
    await Promise.all(packs.map((pack) => pack.release()));
  }
}
