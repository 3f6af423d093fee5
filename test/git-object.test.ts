import test from 'ava';
import crypto from 'node:crypto';
import { changedTree, decodeTree, encodeTree, encodeTreeFrom, FILE_MODE, TREE_MODE, type Tree, type TreeEntry } from '../index-repo/git-object.ts';

const oid = () => crypto.randomBytes(20).toString('hex');

/** A tree of `count` author folders and a few files, as `packages/` holds them. */
function largeTree(count: number): Map<string, TreeEntry> {
  const tree = new Map<string, TreeEntry>();
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

test('a large tree that gains, loses or changes the mode of an entry: the bytes of a whole encoding, in Git order', (t) => {
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

test('a large tree whose entries get new ids reads through to the one before it, and equals the copy it stands for', (t) => {
  let base: Tree = largeTree(600);
  let copy = new Map(base);
  encodeTreeFrom(null, base, []);
  const kinds: string[] = [];
  for (let commit = 0; commit < 20; commit++) {
    const names = [`author-${(commit * 37) % 600}`, `author-${(commit * 91) % 600}`, 'author-1.json'];
    const changes = new Map<string, TreeEntry | null>(names.map((name) => [name, { mode: (copy.get(name) as TreeEntry).mode, oid: oid() }]));
    const tree = changedTree(base, changes);
    for (const [name, entry] of changes) copy.set(name, entry as TreeEntry);
    kinds.push(tree instanceof Map ? 'map' : 'patched');
    t.deepEqual([...tree], [...copy]);
    t.deepEqual([...tree.keys()], [...copy.keys()]);
    t.is(tree.size, copy.size);
    for (const name of names) t.deepEqual(tree.get(name), copy.get(name));
    t.true(tree.has('author-0') && !tree.has('author-600'));
    t.deepEqual(encodeTreeFrom(base, tree, names), encodeTree(copy));
    base = tree;
    copy = new Map(copy);
  }
  // Eight trees deep, the ninth copies the entries into one map, and the line starts again.
  t.deepEqual(kinds.slice(0, 10), [...Array.from({ length: 8 }, () => 'patched'), 'map', 'patched']);
});

test('a tree that loses an entry, changes a mode, or is small, is a new map with the changes', (t) => {
  const base = largeTree(400);
  const cases: Array<[Tree, Map<string, TreeEntry | null>]> = [
    [base, new Map([['author-3', null]])],
    [base, new Map([['author-3', null], ['author-3x', { mode: TREE_MODE, oid: oid() }]])],
    [base, new Map([['author-5', { mode: FILE_MODE, oid: oid() }]])],
    [largeTree(10), new Map([['author-2', { mode: TREE_MODE, oid: oid() }]])],
  ];
  for (const [from, changes] of cases) {
    const tree = changedTree(from, changes);
    t.true(tree instanceof Map);
    const expected = new Map(from);
    for (const [name, entry] of changes) {
      if (entry === null) expected.delete(name);
      else expected.set(name, entry);
    }
    t.deepEqual([...tree], [...expected]);
  }
});

test('new entries are spliced into a large tree\'s encoding where Git\'s order puts them, and its ids stay in place after', (t) => {
  let base: Tree = largeTree(300);
  let copy = new Map(base);
  encodeTreeFrom(null, base, []);
  const folder = (): TreeEntry => ({ mode: TREE_MODE, oid: oid() });
  const file = (): TreeEntry => ({ mode: FILE_MODE, oid: oid() });
  const commits: Array<Array<[string, TreeEntry]>> = [
    [['aaa-first', folder()]],
    [['zzz-last', folder()]],
    [['author-150a', folder()]],
    // Two new entries in one gap, given out of order, and an id changed beside them.
    [['author-77c', folder()], ['author-77b', folder()], ['author-77', folder()]],
    // A file and a folder whose names only differ by the folder's "/": Git puts "author-5.json" before "author-5/".
    [['author-5.json', file()], ['author-50.json', file()]],
    [['author-1', folder()], ['aaa-first', folder()], ['zzz-last', folder()], ['author-150a', folder()]],
    [['b', file()], ['author-299z', folder()], ['author-0', folder()]],
  ];
  for (const changes of commits) {
    const tree = changedTree(base, new Map(changes));
    for (const [name, entry] of changes) copy.set(name, entry);
    t.false(tree instanceof Map, 'gaining entries, a large tree reads through to the one before');
    t.deepEqual([...tree], [...copy]);
    t.deepEqual([...tree.keys()], [...copy.keys()]);
    t.is(tree.size, copy.size);
    for (const [name] of changes) t.true(tree.has(name));
    t.false(tree.has('author-300'));
    t.deepEqual(encodeTreeFrom(base, tree, changes.map(([name]) => name)), encodeTree(copy));
    base = tree;
    copy = new Map(copy);
  }
  const sorted = (map: Tree) => [...map].sort(([a], [b]) => (a < b ? -1 : 1));
  t.deepEqual(sorted(decodeTree(encodeTree(copy))), sorted(copy));
});

test('a large tree gaining a name that is not ASCII is encoded whole, in Git\'s byte order', (t) => {
  const base = largeTree(300);
  encodeTreeFrom(null, base, []);
  const tree = new Map(base).set('author-\u00e9', { mode: TREE_MODE, oid: oid() }).set('author-Z', { mode: TREE_MODE, oid: oid() });
  const encoded = encodeTreeFrom(base, tree, ['author-\u00e9', 'author-Z']);
  t.deepEqual(encoded, encodeTree(new Map(tree)));
  // Later changes go on from a whole encoding.
  const next = new Map(tree).set('author-\u00e9', { mode: TREE_MODE, oid: oid() }).set('author-9a', { mode: TREE_MODE, oid: oid() });
  t.deepEqual(encodeTreeFrom(tree, next, ['author-\u00e9', 'author-9a']), encodeTree(new Map(next)));
});
