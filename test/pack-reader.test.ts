import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { ObjectStore } from '../index-repo/object-store.ts';
import { encodeObject } from '../index-repo/git-object.ts';
import { encodePack } from '../index-repo/pack-writer.ts';
import { tempDir } from './helpers/registry.ts';

const git = (gitDir: string, args: string[], input?: string | Buffer) =>
  execFileSync('git', ['-c', 'user.name=T', '-c', 'user.email=t@example.com', '--git-dir', gitDir, ...args], input === undefined ? {} : { input });

/** Every object of a repository as `git cat-file` reads it: id -> [type, content]. */
function gitObjects(gitDir: string): Map<string, [string, Buffer]> {
  const ids = git(gitDir, ['cat-file', '--batch-all-objects', '--batch-check=%(objectname)']).toString().trim().split('\n');
  const objects = new Map<string, [string, Buffer]>();
  for (const oid of ids) {
    const type = git(gitDir, ['cat-file', '-t', oid]).toString().trim();
    objects.set(oid, [type, git(gitDir, ['cat-file', type, oid])]);
  }
  return objects;
}

test('objects packed by git with deep delta chains read back exactly as git reads them', async (t) => {
  const work = tempDir();
  const gitDir = path.join(work, 'repo.git');
  execFileSync('git', ['init', '-q', '--bare', gitDir]);
  // Many versions of similar files: git stores most of them as deltas of each other.
  let text = Array.from({ length: 400 }, (_, i) => `line ${i} of a file that changes a little each time`).join('\n');
  let parent: string | null = null;
  for (let i = 0; i < 40; i++) {
    text = text.replace(`line ${i * 7}`, `changed line ${i * 7}`);
    const blob = git(gitDir, ['hash-object', '-w', '--stdin'], text).toString().trim();
    const tree = git(gitDir, ['mktree'], `100644 blob ${blob}\tfile.txt\n`).toString().trim();
    const commit: string = git(gitDir, ['commit-tree', tree, ...(parent ? ['-p', parent] : []), '-m', `v${i}`]).toString().trim();
    parent = commit;
  }
  git(gitDir, ['update-ref', 'refs/heads/main', parent as string]);
  git(gitDir, ['repack', '-adfq', '--depth=50', '--window=50']);
  const packs = fs.readdirSync(path.join(gitDir, 'objects', 'pack')).filter((n) => n.endsWith('.pack'));
  t.is(packs.length, 1);
  const verify = git(gitDir, ['verify-pack', '-v', path.join(gitDir, 'objects', 'pack', packs[0] as string)]).toString();
  t.true(/chain length = [2-9]\d*|chain length = \d{2,}/.test(verify), 'git made delta chains');

  const store = new ObjectStore(gitDir);
  t.teardown(() => store.close());
  await store.rescanPacks();
  const expected = gitObjects(gitDir);
  t.true(expected.size >= 120);
  for (const [oid, [type, content]] of expected) {
    const read = await store.read(oid);
    t.is(read.type as string, type, oid);
    t.true(read.content.equals(content), oid);
  }
});

test('a pack written by the registry is one git verifies and reads', async (t) => {
  const gitDir = path.join(tempDir(), 'repo.git');
  execFileSync('git', ['init', '-q', '--bare', gitDir]);
  const objects = [encodeObject('blob', Buffer.from('hello')), encodeObject('blob', Buffer.alloc(70_000, 7)), encodeObject('blob', Buffer.from([0x1f, 0x8b, 1, 2, 3]))];
  const { name, pack, idx } = encodePack([...objects, objects[0]!]);
  const base = path.join(gitDir, 'objects', 'pack', `pack-${name}`);
  fs.writeFileSync(`${base}.pack`, pack);
  fs.writeFileSync(`${base}.idx`, idx);
  git(gitDir, ['verify-pack', `${base}.pack`]);
  for (const object of objects) {
    const content = object.wrapped.subarray(object.wrapped.indexOf(0) + 1);
    t.true(git(gitDir, ['cat-file', 'blob', object.oid]).equals(content));
  }
  const store = new ObjectStore(gitDir);
  t.teardown(() => store.close());
  await store.rescanPacks();
  t.is((await store.readBlob(objects[1]!.oid)).length, 70_000);
});

test('objects are deflated the cheapest way that loses almost nothing', async (t) => {
  const crypto = await import('node:crypto');
  const zlib = await import('node:zlib');
  const { deflate } = await import('../index-repo/pack-writer.ts');
  const source = Buffer.from(Array.from({ length: 800 }, (_, i) => `value${i} : Int\nvalue${i} = ${i}\n`).join(''));
  const base64 = Buffer.from(crypto.randomBytes(30_000).toString('base64'));
  const gzipped = zlib.gzipSync(source);
  for (const content of [source, base64, gzipped, Buffer.from('small')]) t.true(zlib.inflateSync(deflate(content)).equals(content));
  t.true(deflate(source).length < source.length / 3, `source code is compressed (${deflate(source).length} of ${source.length})`);
  t.true(deflate(base64).length < base64.length * 0.8, 'base64 keeps its Huffman saving');
  t.true(deflate(gzipped).length >= gzipped.length, 'gzip data is stored');
});
