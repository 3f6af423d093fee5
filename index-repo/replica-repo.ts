import fs from 'node:fs';
import path from 'node:path';
import { decodeCommit } from './git-object.ts';
import { git, runGit } from './git-command.ts';
import { purgeUnreachable, repack, stopStaleRepack } from './maintenance.ts';
import { ObjectStore } from './object-store.ts';
import { CONTENT_PREFIX } from './content-refs.ts';
import { RefView } from './ref-view.ts';
import { BRANCH } from './refs.ts';
import { createSnapshot } from './snapshot.ts';
import type { ServedRefs, Snapshot } from './types.ts';

/** Where a fetch puts what it brought, before it is checked and served: hidden from every Git client. */
export const INCOMING = 'refs/incoming/';

/** One state of an index: the commit of `main`, and the content refs beside it (`refs/namespaces/...`). */
export type RefState = { main: string | null; refs: ReadonlyMap<string, string> };

/**
 * Every command that writes: objects flushed before any ref names them, refs not (one flush per
 * ref file made the first copy of 10,000 versions' 20,000 refs take minutes; a ref lost to a
 * power cut is fetched or promoted again, see `ReplicaRepo.open`), and no automatic gc (a prune
 * must never run beside a fetch).
 */
const WRITING = ['-c', 'core.fsync=objects', '-c', 'core.fsyncMethod=fsync', '-c', 'gc.auto=0', '-c', 'maintenance.auto=false', '-c', 'fetch.writeCommitGraph=false'];

/** Refs written one file each since the last `git pack-refs`: past this many, they are packed. */
const LOOSE_REFS_PACKED_AT = 256;

/**
 * A read replica's own copy of an index, a bare repository kept with the `git` command: a fetch
 * brings `main` and the content refs of a source (the primary's `/index.git`, or a mirror) under
 * `refs/incoming/`; once that state is checked, `promote` makes it the served one (`main` and
 * `refs/namespaces/...`, what `git http-backend` shows clients) in one transaction.
 */
export class ReplicaRepo {
  readonly gitDir: string;
  readonly store: ObjectStore;
  private state: RefState;
  /** What `refs/incoming/` held after the last fetch (unknown before the first one). */
  private fetched: RefState | null = null;
  private looseRefs = 0;

  private constructor(gitDir: string, state: RefState) {
    this.gitDir = gitDir;
    this.store = new ObjectStore(gitDir);
    this.state = state;
  }

  /** Opens (creating on first use) the repository; the caller holds the folder's one-process lock. */
  static async open(gitDir: string): Promise<ReplicaRepo> {
    if (!fs.existsSync(path.join(gitDir, 'HEAD'))) {
      fs.mkdirSync(gitDir, { recursive: true });
      await git(gitDir, ['init', '--quiet', '--bare', '--initial-branch=main']);
    }
    await stopStaleRepack(gitDir);
    removeLeftovers(gitDir);
    const refs = await readRefs(gitDir, [BRANCH, CONTENT_PREFIX]);
    const repo = new ReplicaRepo(gitDir, stateOf(refs, ''));
    await repo.store.rescanPacks();
    return repo;
  }

  /** The state served now. */
  served(): RefState {
    return this.state;
  }

  /** The state the last fetch brought (what `refs/incoming/` holds). */
  async incoming(): Promise<RefState> {
    return stateOf(await readRefs(this.gitDir, [INCOMING]), INCOMING);
  }

  /**
   * Fetches `main` and every content ref of `source` into `refs/incoming/`, dropping those the
   * source no longer has; answers the state fetched. Killed after `timeoutMs`, or when `signal` aborts.
   */
  async fetch(source: string, options: { timeoutMs: number; signal: AbortSignal }): Promise<RefState> {
    const refspecs = [`+${BRANCH}:${INCOMING}heads/main`, `+${CONTENT_PREFIX}*:${INCOMING}namespaces/*`];
    await git(this.gitDir, [...WRITING, 'fetch', '--quiet', '--prune', '--no-tags', '--atomic', '--no-write-fetch-head', '--', source, ...refspecs], options);
    await this.store.rescanPacks();
    const fetched = await this.incoming();
    this.looseRefs += changedRefs(this.fetched, fetched);
    this.fetched = fetched;
    return fetched;
  }

  /** Whether `ancestor` is `commit` or in its history. */
  async isAncestor(ancestor: string, commit: string): Promise<boolean> {
    const result = await runGit(this.gitDir, ['merge-base', '--is-ancestor', ancestor, commit]);
    if (result.code === 0 || result.code === 1) return result.code === 0;
    throw new Error(`git merge-base failed (${result.code}): ${result.stderr.trim()}`);
  }

  /** The root tree of a commit. */
  async rootTree(commit: string): Promise<string> {
    return decodeCommit((await this.store.read(commit)).content).tree;
  }

  /** A view of a state of `main` and its content refs, bundles served at their paths as `served` maps them. */
  async snapshot(state: RefState & { main: string }, served: ServedRefs): Promise<Snapshot> {
    return createSnapshot(this.store, state.main, await this.rootTree(state.main), new RefView(state.refs), served);
  }

  /**
   * Makes `state` the served one: `main` and the content refs set and deleted in one transaction
   * of `git update-ref` (all of them or none). Answers how many refs it set and deleted.
   */
  async promote(state: RefState & { main: string }): Promise<{ set: number; deleted: number }> {
    const lines: string[] = [];
    if (state.main !== this.state.main) lines.push(`update ${BRANCH} ${state.main}`);
    for (const [ref, oid] of state.refs) if (this.state.refs.get(ref) !== oid) lines.push(`update ${ref} ${oid}`);
    const set = lines.length;
    for (const ref of this.state.refs.keys()) if (!state.refs.has(ref)) lines.push(`delete ${ref}`);
    if (lines.length > 0) await git(this.gitDir, [...WRITING, 'update-ref', '--stdin'], { input: lines.join('\n') + '\n' });
    this.state = state;
    this.looseRefs += set;
    if (this.looseRefs > LOOSE_REFS_PACKED_AT) await this.packRefs();
    return { set, deleted: lines.length - set };
  }

  /** Removes from disk every object no ref reaches any more (after a revoke). Never beside a fetch. */
  async purge(): Promise<void> {
    await purgeUnreachable(this.gitDir);
    await this.store.rescanPacks();
  }

  /** Folds the small packs of fetches together, and packs the refs. Never beside a fetch. */
  async pack(): Promise<void> {
    await repack(this.gitDir);
    await this.packRefs();
    await this.store.rescanPacks();
  }

  private async packRefs(): Promise<void> {
    await git(this.gitDir, [...WRITING, 'pack-refs', '--all', '--prune']);
    this.looseRefs = 0;
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}

/** How many refs differ between two states (all of `to` when `from` is unknown). */
function changedRefs(from: RefState | null, to: RefState): number {
  if (from === null) return to.refs.size + 1;
  let changed = from.main === to.main ? 0 : 1;
  for (const [ref, oid] of to.refs) if (from.refs.get(ref) !== oid) changed++;
  return changed;
}

/** Refs below `prefixes`, by name (`git for-each-ref`: loose and packed, as Git reads them). */
async function readRefs(gitDir: string, prefixes: string[]): Promise<Map<string, string>> {
  const out = await git(gitDir, ['for-each-ref', '--format=%(objectname) %(refname)', ...prefixes]);
  const refs = new Map<string, string>();
  for (const line of out.split('\n')) if (line.length > 41) refs.set(line.slice(41), line.slice(0, 40));
  return refs;
}

/** The state refs below `prefix` hold: its `heads/main` and its content refs, named as the source names them. */
function stateOf(refs: Map<string, string>, prefix: string): RefState {
  const content = new Map<string, string>();
  const contentPrefix = prefix === '' ? CONTENT_PREFIX : `${prefix}namespaces/`;
  for (const [ref, oid] of refs) if (ref.startsWith(contentPrefix)) content.set(`${CONTENT_PREFIX}${ref.slice(contentPrefix.length)}`, oid);
  return { main: refs.get(prefix === '' ? BRANCH : `${prefix}heads/main`) ?? null, refs: content };
}

/**
 * Clears what a process killed mid-command left: ref lock files (which would refuse the next
 * update), a killed fetch's temporary packs, and the `.keep` files that would keep its pack
 * from ever being purged. Only while this process holds the folder and no repack runs.
 */
function removeLeftovers(gitDir: string): void {
  for (const entry of fs.readdirSync(path.join(gitDir, 'refs'), { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && entry.name.endsWith('.lock')) fs.rmSync(path.join(entry.parentPath, entry.name), { force: true });
  }
  for (const name of ['packed-refs.lock', 'HEAD.lock', 'shallow.lock']) fs.rmSync(path.join(gitDir, name), { force: true });
  const packs = path.join(gitDir, 'objects', 'pack');
  for (const name of fs.existsSync(packs) ? fs.readdirSync(packs) : []) {
    const file = path.join(packs, name);
    const fetched = name.endsWith('.keep') && /^(fetch-pack|receive-pack) /.test(fs.readFileSync(file, 'utf8'));
    if (fetched || name.startsWith('tmp_')) fs.rmSync(file, { force: true });
  }
}
