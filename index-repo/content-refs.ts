import fs from 'node:fs';
import path from 'node:path';

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

/** Ref changes written where they need disk space, waiting to be put in place by renames and removals alone. */
export type PreparedRefs = {
  /** Puts every change in place: renames of lock files and removals, nothing that needs space; the paths changed go to `touched`. */
  install(touched: Set<string>): void;
  /** Removes what `prepareRefs` wrote, when the change is not to happen. */
  discard(): void;
};

/**
 * Prepares ref changes the way Git moves refs, in two steps, so that a full disk fails the
 * first and never the second: each new value is written to `<ref>.lock` (folders created as
 * needed), and for deletions of packed refs the new `packed-refs` to its lock; `install` then
 * renames the locks over the refs, removes the deleted refs' files and the folders they leave
 * empty. `refs` maps each full ref name (`refs/heads/main` or a content ref) to its new object,
 * or to null to delete it (content refs only). Nothing is flushed: the files and folders changed
 * go to `touched` (the folders created) and to `install`'s (the rest), for the caller to flush
 * (the commit log makes the change durable before).
 */
export function prepareRefs(gitDir: string, refs: Iterable<[string, string | null]>, touched: Set<string>): PreparedRefs {
  const locks: Array<{ lock: string; file: string }> = [];
  const deleted: string[] = [];
  const created: string[] = [];
  let packedLock: string | null = null;
  const discard = () => {
    for (const { lock } of locks) fs.rmSync(lock, { force: true });
    if (packedLock) fs.rmSync(packedLock, { force: true });
    for (const dir of created.reverse()) fs.rmSync(dir, { recursive: false, force: true });
  };
  try {
    for (const [name, oid] of refs) {
      if (name !== 'refs/heads/main') checkRef(name);
      const file = path.join(gitDir, name);
      if (oid === null) {
        deleted.push(name);
        continue;
      }
      if (!OID.test(oid)) throw new Error(`${name}: "${oid}" is not an object id`);
      created.push(...makeDirs(path.dirname(file), touched));
      fs.writeFileSync(`${file}.lock`, `${oid}\n`, { flag: 'w', mode: 0o644 });
      locks.push({ lock: `${file}.lock`, file });
    }
    const packed = deleted.length > 0 ? readPacked(gitDir) : null;
    if (packed && deleted.some((name) => packed.has(name))) {
      for (const name of deleted) packed.delete(name);
      packedLock = writePackedLock(gitDir, packed);
    }
  } catch (err) {
    discard();
    throw err;
  }
  return {
    install(touched) {
      for (const { lock, file } of locks) {
        fs.renameSync(lock, file);
        touched.add(file).add(path.dirname(file));
      }
      if (packedLock) {
        fs.renameSync(packedLock, path.join(gitDir, PACKED));
        touched.add(path.join(gitDir, PACKED)).add(gitDir);
      }
      removeLoose(gitDir, deleted, touched);
    },
    discard,
  };
}

/** Creates `dir` and the folders above it that are missing; the folders that gained an entry go to `touched`. Returns the folders created. */
function makeDirs(dir: string, touched: Set<string>): string[] {
  const created: string[] = [];
  let current = dir;
  while (!fs.existsSync(current)) {
    created.unshift(current);
    current = path.dirname(current);
  }
  for (const folder of created) {
    fs.mkdirSync(folder);
    touched.add(path.dirname(folder));
  }
  return created;
}

/** Removes deleted refs' loose files and the folders they leave empty (up to refs/namespaces). */
function removeLoose(gitDir: string, names: string[], touched: Set<string>): void {
  const dirs = new Set<string>();
  for (const name of names) {
    const file = path.join(gitDir, name);
    fs.rmSync(file, { force: true });
    dirs.add(path.dirname(file));
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
  for (const start of dirs) {
    let dir = start;
    while (!fs.existsSync(dir)) dir = path.dirname(dir);
    touched.add(dir);
  }
}

/** Writes `packed-refs` with `refs` (every ref it should hold), sorted as Git writes it, to its lock file; returns the lock. */
function writePackedLock(gitDir: string, refs: Map<string, string>): string {
  const lock = path.join(gitDir, `${PACKED}.lock`);
  const names = [...refs.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  fs.writeFileSync(lock, PACKED_HEADER + names.map((name) => `${refs.get(name)} ${name}\n`).join(''), { flag: 'wx', mode: 0o644 });
  return lock;
}
