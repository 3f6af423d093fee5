import type { Clock } from '../gateway/clock.ts';
import type { Logger } from '../gateway/log.ts';
import { describeError } from '../gateway/log.ts';
import type { CommitPlan, FileChange, IndexRepo, Snapshot } from './types.ts';
import { encodeCommit, encodeObject } from './git-object.ts';
import type { ObjectStore } from './object-store.ts';
import { buildTree } from './tree-builder.ts';
import { createSnapshot } from './snapshot.ts';
import { PendingObjects } from './pending-objects.ts';
import { prepareMain } from './refs.ts';
import { stageServerInfo, writeServerInfo } from './server-info.ts';
import { encodePack } from './pack-writer.ts';
import type { ServedFolder } from './served-folder.ts';
import { repack } from './maintenance.ts';

const AUTHOR = 'Gren Registry <registry@localhost>';
/** Plans run, and commits stored, together at most. */
const MAX_BATCH = 32;

type Plan<T> = (snapshot: Snapshot) => Promise<CommitPlan<T>> | CommitPlan<T>;
type Answer = { commit: string | null; result: unknown };
type Waiting = { plan: Plan<unknown>; resolve: (answer: Answer) => void; reject: (err: unknown) => void };
type Outcome = { waiting: Waiting; afterCommits: boolean } & ({ value: Answer } | { error: unknown });
type BuiltCommit = { oid: string; tree: string; message: string; changes: FileChange[] };

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
 * so history is linear and each plan sees the commits before it. Plans that arrive while a
 * commit is being stored wait, then run and are stored together (each still its own commit).
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
  private readonly waiting: Waiting[] = [];
  private batchScheduled = false;

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

  update<T>(plan: Plan<T>): Promise<{ commit: string | null; result: T }> {
    if (this.closed) return Promise.reject(new Error(`the ${this.parts.name} index repository is closed`));
    return new Promise((resolve, reject) => {
      this.waiting.push({ plan, resolve, reject } as Waiting);
      this.scheduleBatch();
    });
  }

  private scheduleBatch(): void {
    if (this.batchScheduled) return;
    this.batchScheduled = true;
    void this.enqueue(() => this.runBatch());
  }

  /**
   * Runs the plans waiting now, each on the state the ones before it left, as one commit each,
   * then stores all their objects and moves `main` once: a group commit. Every caller is
   * answered after the commits are durable; a plan that failed is answered with its error.
   */
  private async runBatch(): Promise<void> {
    this.batchScheduled = false;
    const batch = this.waiting.splice(0, MAX_BATCH);
    if (this.waiting.length > 0) this.scheduleBatch();
    const pending = new PendingObjects(this.parts.store);
    const outcomes: Outcome[] = [];
    const commits: BuiltCommit[] = [];
    let head = this.headCommit;
    let tree = this.rootTree;
    for (const waiting of batch) {
      try {
        const planned = await waiting.plan(createSnapshot(pending, head ?? '', tree));
        // A repository without commits gets its first one even from an empty list of changes.
        const wanted = 'changes' in planned && (planned.changes.length > 0 || head === null);
        const built = wanted ? await this.buildCommit(pending, head, tree, planned.message, planned.changes) : null;
        if (!built) {
          outcomes.push({ waiting, value: { commit: null, result: planned.result }, afterCommits: commits.length > 0 });
          continue;
        }
        commits.push(built);
        head = built.oid;
        tree = built.tree;
        outcomes.push({ waiting, value: { commit: built.oid, result: planned.result }, afterCommits: true });
      } catch (err) {
        outcomes.push({ waiting, error: err, afterCommits: commits.length > 0 });
      }
    }
    const failure = commits.length > 0 ? await this.store(pending, commits).then(() => null, (err: unknown) => ({ err })) : null;
    for (const outcome of outcomes) {
      // Outcomes that saw commits which never became durable are not to be trusted.
      if (failure && outcome.afterCommits) outcome.waiting.reject(failure.err);
      else if ('error' in outcome) outcome.waiting.reject(outcome.error);
      else outcome.waiting.resolve(outcome.value);
    }
  }

  /** Builds one commit of `changes` over `tree`, or null when the tree would not change. */
  private async buildCommit(pending: PendingObjects, parent: string | null, tree: string, message: string, changes: FileChange[]): Promise<BuiltCommit | null> {
    const built = await buildTree(pending, tree, changes);
    if (parent !== null && built.oid === tree) return null;
    const fields = { tree: built.oid, parents: parent ? [parent] : [], author: AUTHOR, message, time: this.parts.clock.now() };
    const commit = encodeObject('commit', encodeCommit(fields));
    pending.add(built, commit);
    return { oid: commit.oid, tree: built.oid, message, changes };
  }

  /**
   * Makes built commits durable and current, in the order that makes a crash harmless: store
   * their objects (one flushed pack) and move `main` to the last (flushed), then publish what
   * is derived: server info, and the served files. The derived files are staged while the
   * commit is flushed, and only renamed into place once it is durable.
   */
  private async store(pending: PendingObjects, commits: BuiltCommit[]): Promise<void> {
    const { store, served, gitDir, log, name } = this.parts;
    const last = commits[commits.length - 1] as BuiltCommit;
    const packed = encodePack(pending.objects);
    const stagedFiles = served?.stage(commits.flatMap((c) => c.changes));
    try {
      const [, ref, info] = await Promise.all([
        store.writePack(packed),
        prepareMain(gitDir, last.oid),
        stageServerInfo(gitDir, last.oid, [...store.packNames(), `pack-${packed.name}.pack`]),
        stagedFiles,
      ]);
      await ref.move();
      pending.stored();
      this.headCommit = last.oid;
      this.rootTree = last.tree;
      this.current = createSnapshot(store, last.oid, last.tree);
      await Promise.all([info.publish(), (await stagedFiles)?.publish(last.oid)]);
    } catch (err) {
      if (this.headCommit !== last.oid) await (await stagedFiles?.catch(() => undefined))?.discard();
      throw err;
    }
    for (const commit of commits) log.info('index_commit', { repo: name, commit: commit.oid, message: commit.message.split('\n', 1)[0] });
    this.commitsSincePack += commits.length;
    const { packEvery } = this.parts;
    if (packEvery && this.commitsSincePack >= packEvery && !this.packing) void this.maintain().catch(() => undefined);
  }

  /** Makes the served folder equal `main` again, after a crash left it behind. */
  async repairServed(): Promise<void> {
    const { served, store, log, name } = this.parts;
    await served?.clearStaging();
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
          await writeServerInfo(gitDir, this.headCommit, store.packNames());
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
    await this.parts.served?.settle();
    await this.parts.store.close();
    this.parts.release();
  }
}
