import fs from 'node:fs';
import path from 'node:path';
import { syncDir } from './durable-fs.ts';

/** Where content refs live: Git namespaces, one per package, never fetched by a plain clone. */
export const CONTENT_PREFIX = 'refs/namespaces/';

const PACKED = 'packed-refs';
const PACKED_HEADER = '# pack-refs with: peeled fully-peeled sorted \n';
const OID = /^[0-9a-f]{40}$/;

/** Whether a ref name is one this repository may hold as a content ref (a subset of Git's rules). */
export function isContentRef(name: string): boolean {
  if (!name.startsWith(CONTENT_PREFIX) || name.length > 1024) return false;
  return name
    .slice('refs/'.length)
    .split('/')
    .every((part) => /^[A-Za-z0-9_][A-Za-z0-9._-]*$/.test(part) && !part.endsWith('.lock') && !part.includes('..') && !part.endsWith('.'));
}

function checkRef(name: string): void {
  if (!isContentRef(name)) throw new Error(`"${name}" is not a content ref name`);
}

/** The refs of `packed-refs` (all of them, not only content refs), in file order. */
function readPacked(gitDir: string): Map<string, string> {
  const refs = new Map<string, string>();
  let text: string;
  try {
    text = fs.readFileSync(path.join(gitDir, PACKED), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return refs;
    throw err;
  }
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#') || line.startsWith('^')) continue;
    const oid = line.slice(0, 40);
    const name = line.slice(41);
    if (OID.test(oid) && name) refs.set(name, oid);
  }
  return refs;
}

/** Every loose ref file below `dir` (a folder of refs/namespaces/...), skipping lock files. */
function readLoose(gitDir: string, refs: Map<string, string>): void {
  const root = path.join(gitDir, CONTENT_PREFIX);
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(root, { recursive: true, withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for (const entry of entries) {
    if (!entry.isFile() || entry.name.endsWith('.lock')) continue;
    const file = path.join(entry.parentPath, entry.name);
    const name = path.relative(gitDir, file).split(path.sep).join('/');
    const value = fs.readFileSync(file, 'utf8').trim();
    if (OID.test(value)) refs.set(name, value);
  }
}

/** Every content ref of a repository and the object it names: loose refs over packed ones, as Git reads them. */
export function loadContentRefs(gitDir: string): Map<string, string> {
  const refs = new Map<string, string>();
  for (const [name, oid] of readPacked(gitDir)) if (name.startsWith(CONTENT_PREFIX)) refs.set(name, oid);
  readLoose(gitDir, refs);
  return refs;
}

/** Removes the lock files a process killed while moving content refs left behind. */
export function removeStaleRefLocks(gitDir: string): number {
  let removed = 0;
  const root = path.join(gitDir, CONTENT_PREFIX);
  let entries: fs.Dirent[] = [];
  try {
    entries = fs.readdirSync(root, { recursive: true, withFileTypes: true });
  } catch {
    // No content refs yet.
  }
  for (const entry of entries) {
    if (entry.isFile() && entry.name.endsWith('.lock')) {
      fs.rmSync(path.join(entry.parentPath, entry.name), { force: true });
      removed++;
    }
  }
  if (fs.existsSync(path.join(gitDir, `${PACKED}.lock`))) {
    fs.rmSync(path.join(gitDir, `${PACKED}.lock`), { force: true });
    removed++;
  }
  return removed;
}

/** Creates `dir` and the folders above it that are missing, flushing each parent that gained one. */
function makeDirs(dir: string): string[] {
  const created: string[] = [];
  let current = dir;
  while (!fs.existsSync(current)) {
    created.unshift(current);
    current = path.dirname(current);
  }
  for (const folder of created) fs.mkdirSync(folder);
  return created.map((folder) => path.dirname(folder));
}

/** Content refs written and flushed as lock files: `rename` puts them in place and returns the folders to flush. */
export type PreparedRefs = { rename(): string[]; discard(): Promise<void> };

/**
 * Sets content refs the way Git moves a ref, in two steps. `prepareRefs` writes each new value to
 * `<ref>.lock` and flushes it (creating missing folders, flushed too); `rename` renames every lock
 * over its ref, and the caller flushes the folders it returns. A crash before leaves only locks,
 * removed at the next open; after, every ref names its new object.
 */
export async function prepareRefs(gitDir: string, values: Map<string, string>): Promise<PreparedRefs> {
  const parents = new Set<string>();
  const locks: Array<{ lock: string; ref: string; oid: string }> = [];
  for (const [name, oid] of values) {
    checkRef(name);
    if (!OID.test(oid)) throw new Error(`${name}: "${oid}" is not an object id`);
    const ref = path.join(gitDir, name);
    for (const parent of makeDirs(path.dirname(ref))) parents.add(parent);
    locks.push({ lock: `${ref}.lock`, ref, oid });
  }
  await Promise.all([
    ...locks.map(async ({ lock, oid }) => {
      const handle = await fs.promises.open(lock, 'wx', 0o644);
      try {
        await handle.writeFile(`${oid}\n`);
        await handle.datasync();
      } finally {
        await handle.close();
      }
    }),
    ...[...parents].map((dir) => syncDir(dir)),
  ]);
  return {
    rename() {
      const dirs = new Set<string>();
      for (const { lock, ref } of locks) {
        fs.renameSync(lock, ref);
        dirs.add(path.dirname(ref));
      }
      return [...dirs];
    },
    async discard() {
      for (const { lock } of locks) fs.rmSync(lock, { force: true });
    },
  };
}

/** Rewrites `packed-refs` durably with `refs` (every ref it should hold), sorted, as Git writes it. */
async function writePacked(gitDir: string, refs: Map<string, string>): Promise<void> {
  const file = path.join(gitDir, PACKED);
  const lock = `${file}.lock`;
  const names = [...refs.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const text = PACKED_HEADER + names.map((name) => `${refs.get(name)} ${name}\n`).join('');
  const handle = await fs.promises.open(lock, 'wx', 0o644);
  try {
    await handle.writeFile(text);
    await handle.datasync();
  } finally {
    await handle.close();
  }
  fs.renameSync(lock, file);
  await syncDir(gitDir);
}

/**
 * Deletes content refs, loose and packed, and the folders they leave empty, flushed. A ref that
 * does not exist is no error.
 */
export async function deleteRefs(gitDir: string, names: string[]): Promise<void> {
  if (names.length === 0) return;
  const dirs = new Set<string>();
  for (const name of names) {
    checkRef(name);
    const file = path.join(gitDir, name);
    fs.rmSync(file, { force: true });
    dirs.add(path.dirname(file));
  }
  const packed = readPacked(gitDir);
  if (names.some((name) => packed.has(name))) {
    for (const name of names) packed.delete(name);
    await writePacked(gitDir, packed);
  }
  const stop = path.join(gitDir, 'refs', 'namespaces');
  for (const start of dirs) {
    for (let dir = start; dir.startsWith(stop) && dir !== stop; dir = path.dirname(dir)) {
      try {
        fs.rmdirSync(dir);
      } catch {
        break;
      }
    }
  }
  // Each folder that lost an entry, or the nearest one left above it.
  const flush = new Set<string>();
  for (const start of dirs) {
    let dir = start;
    while (!fs.existsSync(dir)) dir = path.dirname(dir);
    flush.add(dir);
  }
  await Promise.all([...flush].map((dir) => syncDir(dir)));
}

/**
 * Writes many content refs at once into `packed-refs` (one flushed file, however many refs),
 * for bulk work such as converting a repository; loose refs of the same names are removed.
 */
export async function packRefs(gitDir: string, values: Map<string, string>): Promise<void> {
  const packed = readPacked(gitDir);
  for (const [name, oid] of values) {
    checkRef(name);
    if (!OID.test(oid)) throw new Error(`${name}: "${oid}" is not an object id`);
    packed.set(name, oid);
  }
  await writePacked(gitDir, packed);
  for (const name of values.keys()) fs.rmSync(path.join(gitDir, name), { force: true });
}
