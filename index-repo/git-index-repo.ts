import type { Clock } from '../gateway/clock.ts';
import type { Logger } from '../gateway/log.ts';
import { describeError } from '../gateway/log.ts';
import type { CommitPlan, FileChange, IndexRepo, Snapshot } from './types.ts';
import { encodeCommit, encodeObject } from './git-object.ts';
import type { ObjectStore } from './object-store.ts';
import { buildTree } from './tree-builder.ts';
import { createSnapshot } from './snapshot.ts';
import { updateMain } from './refs.ts';
import { writeInfoPacks, writeInfoRefs } from './server-info.ts';
import type { ServedFolder } from './served-folder.ts';
import { repack } from './maintenance.ts';

const AUTHOR = 'Gren Registry <registry@localhost>';

export type GitIndexRepoParts = {
  gitDir: string;
  name: string;
  store: ObjectStore;
  served: ServedFolder | null;
  clock: Clock;
  log: Logger;
  /** The commit of `main` and its tree when opened (null: no commit yet). */
  head: { commit: string; tree: string } | null;
  /** Commits between two packings (0: only when asked); null when `git` is missing. */
  packEvery: number | null;
  release: () => void;
};

/**
 * An index repository opened by this process: one queue runs every plan and commit in turn,
 * so history is linear and each plan sees the commits before it.
 */
export class GitIndexRepo implements IndexRepo {
  readonly gitDir: string;
  readonly servedDir: string | null;
  private readonly parts: GitIndexRepoParts;
  private headCommit: string | null;
  private rootTree: string;
  private current: Snapshot;
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;
  private commitsSincePack = 0;
  private packing: Promise<void> | null = null;

  constructor(parts: GitIndexRepoParts, emptyTree: string) {
    this.parts = parts;
    this.gitDir = parts.gitDir;
    this.servedDir = parts.served?.dir ?? null;
    this.headCommit = parts.head?.commit ?? null;
    this.rootTree = parts.head?.tree ?? emptyTree;
    this.current = createSnapshot(parts.store, this.headCommit ?? '', this.rootTree);
  }

  head(): string {
    return this.headCommit ?? '';
  }

  snapshot(): Snapshot {
    return this.current;
  }

  /** Runs `task` after every task queued before it; a failure does not stop the queue. */
  enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.tail.then(task);
    this.tail = run.catch(() => undefined);
    return run;
  }

  update<T>(plan: (snapshot: Snapshot) => Promise<CommitPlan<T>> | CommitPlan<T>): Promise<{ commit: string | null; result: T }> {
    if (this.closed) return Promise.reject(new Error(`the ${this.parts.name} index repository is closed`));
    return this.enqueue(async () => {
      const planned = await plan(this.current);
      if (!('changes' in planned) || planned.changes.length === 0) return { commit: null, result: planned.result };
      return { commit: await this.commit(planned.message, planned.changes), result: planned.result };
    });
  }

  /**
   * Makes one commit of `changes` on `main`, or none when the tree would not change. Call only
   * from inside the queue. The steps, in the order that makes a crash harmless: store the new
   * objects durably (as one pack), move the ref durably, then refresh what is derived (server
   * info, served files).
   */
  async commit(message: string, changes: FileChange[]): Promise<string | null> {
    const { store, served, gitDir, clock, log, name } = this.parts;
    const built = await buildTree(store, this.rootTree, changes);
    if (this.headCommit !== null && built.oid === this.rootTree) return null;
    const parents = this.headCommit ? [this.headCommit] : [];
    const commit = encodeObject('commit', encodeCommit({ tree: built.oid, parents, author: AUTHOR, message, time: clock.now() }));
    await store.writeAll([...built.objects, commit]);
    await updateMain(gitDir, commit.oid);
    this.headCommit = commit.oid;
    this.rootTree = built.oid;
    this.current = createSnapshot(store, commit.oid, built.oid);
    // Clones read info/refs, then the pack list: the list must name the new pack first.
    const serverInfo = async () => {
      await writeInfoPacks(gitDir, store.packNames());
      await writeInfoRefs(gitDir, commit.oid);
    };
    await Promise.all([serverInfo(), served?.apply(changes, commit.oid)]);
    log.info('index_commit', { repo: name, commit: commit.oid, message: message.split('\n', 1)[0] });
    this.commitsSincePack++;
    const { packEvery } = this.parts;
    if (packEvery && this.commitsSincePack >= packEvery && !this.packing) void this.maintain().catch(() => undefined);
    return commit.oid;
  }

  /** Makes the served folder equal `main` again, after a crash left it behind. */
  async repairServed(): Promise<void> {
    const { served, store, log, name } = this.parts;
    if (!served || this.headCommit === null || (await served.servedCommit()) === this.headCommit) return;
    const repaired = await served.reconcile(store, this.rootTree, this.headCommit);
    log.warn('index_served_repaired', { repo: name, commit: this.headCommit, paths: repaired });
  }

  /** Packs loose objects for clones, off the write path; commits go on meanwhile. */
  maintain(): Promise<void> {
    const { packEvery, gitDir, store, log, name } = this.parts;
    if (packEvery === null) return Promise.reject(new Error('packing needs the git command'));
    this.packing ??= (async () => {
      this.commitsSincePack = 0;
      const started = performance.now();
      try {
        await repack(gitDir);
        await this.enqueue(async () => {
          await store.rescanPacks();
          await writeInfoPacks(gitDir, store.packNames());
        });
        log.info('index_packed', { repo: name, packs: store.packNames().length, ms: Math.round(performance.now() - started) });
      } catch (err) {
        log.error('index_pack_failed', { repo: name, ...describeError(err) });
        throw err;
      } finally {
        this.packing = null;
      }
    })();
    return this.packing;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.tail;
    await this.packing?.catch(() => undefined);
    await this.parts.store.close();
    this.parts.release();
  }
}
