import test from 'ava';
import crypto from 'node:crypto';
import v8 from 'node:v8';
import vm from 'node:vm';
import { PendingObjects } from '../index-repo/pending-objects.ts';
import { encodeObject } from '../index-repo/git-object.ts';
import type { ObjectStore } from '../index-repo/object-store.ts';

v8.setFlagsFromString('--expose-gc');
const collect = vm.runInNewContext('gc') as () => void;

/** A store that reads nothing (the objects of these batches are never read back here). */
const store = { readTree: () => Promise.reject(new Error('not here')), readBlob: () => Promise.reject(new Error('not here')), rememberTree: () => undefined } as unknown as ObjectStore;

/** Adds a blob of 1 MiB to `pending`; answers weak references to its memory (the content's and the encoding's). */
function addBlob(pending: PendingObjects): Array<WeakRef<ArrayBuffer>> {
  const content = crypto.randomBytes(1024 * 1024);
  const blob = encodeObject('blob', content);
  pending.addBlob(blob, content);
  return [new WeakRef(content.buffer as ArrayBuffer), new WeakRef(blob.wrapped.buffer as ArrayBuffer)];
}

async function collected(refs: Array<WeakRef<ArrayBuffer>>): Promise<boolean> {
  for (let i = 0; i < 3; i++) {
    collect();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return refs.every((ref) => ref.deref() === undefined);
}

test('a batch stored lets go of its objects and of the batches it was built on, while batches built on it live on', async (t) => {
  const first = new PendingObjects(store);
  const firstMemory = addBlob(first);
  // Under steady publishing each batch is built on the one being written: a chain.
  const second = new PendingObjects(store, [first]);
  const secondMemory = addBlob(second);
  const third = new PendingObjects(store, [second]);
  addBlob(third);
  t.false(await collected(firstMemory), 'held while not stored');
  first.stored();
  t.true(await collected(firstMemory), 'the first batch, stored, holds nothing though the second refers to it');
  second.stored();
  t.true(await collected(secondMemory));
  t.truthy(third);
});
