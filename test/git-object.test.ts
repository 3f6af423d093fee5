import test from 'ava';
import crypto from 'node:crypto';
import { decodeTree, encodeTree, encodeTreeFrom, FILE_MODE, TREE_MODE, type Tree } from '../index-repo/git-object.ts';

const oid = () => crypto.randomBytes(20).toString('hex');

/** A tree of `count` author folders and a few files, as `packages/` holds them. */
function largeTree(count: number): Tree {
  const tree: Tree = new Map();
  for (let i = 0; i < count; i++) tree.set(`author-${i}`, { mode: TREE_MODE, oid: oid() });
  tree.set('author-1.json', { mode: FILE_MODE, oid: oid() });
  return tree;
}

test('a large tree changed in place, again and again: each encoding is the bytes a whole encoding gives', (t) => {
  let base = largeTree(600);
  encodeTreeFrom(null, base, []);
  for (const changed of [['author-7', 'author-599', 'author-1.json', 'author-1'], ['author-300'], ['author-7']]) {
    const tree = new Map(base);
    for (const name of changed) tree.set(name, { mode: (base.get(name) as { mode: string }).mode, oid: oid() });
    const patched = encodeTreeFrom(base, tree, changed);
    t.deepEqual(patched, encodeTree(new Map(tree)));
    const sorted = (map: Tree) => [...map].sort(([a], [b]) => (a < b ? -1 : 1));
    t.deepEqual(sorted(decodeTree(patched)), sorted(tree));
    base = tree;
  }
});

test('a tree read back (decoded), or made again from one already changed, is encoded whole, rightly', (t) => {
  const base = decodeTree(encodeTree(largeTree(300)));
  const tree = new Map(base).set('author-9', { mode: TREE_MODE, oid: oid() });
  t.deepEqual(encodeTreeFrom(base, tree, ['author-9']), encodeTree(new Map(tree)));
  // `base` let go of its encoding when `tree` was made from it: a second tree from it is whole too.
  const other = new Map(base).set('author-10', { mode: TREE_MODE, oid: oid() });
  t.deepEqual(encodeTreeFrom(base, other, ['author-10']), encodeTree(new Map(other)));
});

test('a large tree that gains, loses or changes the mode of an entry is encoded whole, in Git order', (t) => {
  const base = largeTree(400);
  encodeTreeFrom(null, base, []);
  const fresh = () => encodeTreeFrom(null, base, []);
  fresh();
  const added = new Map(base).set('author-10a', { mode: TREE_MODE, oid: oid() });
  t.deepEqual(encodeTreeFrom(base, added, ['author-10a']), encodeTree(new Map(added)));
  fresh();
  const removed = new Map(base);
  removed.delete('author-3');
  t.deepEqual(encodeTreeFrom(base, removed, ['author-3']), encodeTree(new Map(removed)));
  fresh();
  const swapped = new Map(base);
  swapped.delete('author-3');
  swapped.set('author-3x', { mode: TREE_MODE, oid: oid() });
  t.deepEqual(encodeTreeFrom(base, swapped, ['author-3', 'author-3x']), encodeTree(new Map(swapped)));
  fresh();
  const mode = new Map(base).set('author-5', { mode: FILE_MODE, oid: oid() });
  const whole = encodeTree(new Map(mode));
  t.deepEqual(encodeTreeFrom(base, mode, ['author-5']), whole);
  // A file named as a folder sorts differently ("author-5" before "author-5/..."): the order is Git's.
  t.not(whole.indexOf('100644 author-5\0'), -1);
});

test('a small tree is always encoded whole', (t) => {
  const base = largeTree(10);
  encodeTreeFrom(null, base, []);
  const tree = new Map(base).set('author-2', { mode: TREE_MODE, oid: oid() });
  t.deepEqual(encodeTreeFrom(base, tree, ['author-2']), encodeTree(new Map(tree)));
});
