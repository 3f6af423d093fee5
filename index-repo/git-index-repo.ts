import { describeError, type Clock, type Logger } from './types.ts';
import type { FileChange, IndexRepo, RepoChange, ServedRefs, Snapshot } from './types.ts';
import { decodeCommit } from './git-object.ts';
import { netRefChanges, runPlans, servedChanges, type Outcome, type Plan, type Step, type Waiting } from './commit-builder.ts';
import type { ObjectStore } from './object-store.ts';
import { deserializeError, type BatchWriter } from './writer-thread.ts';
import { StageTimer } from './stage-timer.ts';
import { replaceMain } from './history-rewrite.ts';
import { createSnapshot } from './snapshot.ts';
import { PendingObjects } from './pending-objects.ts';
import { markPurgeOwed } from './marks.ts';
import type { EncodedObject } from './git-object.ts';
import type { ServedFolder } from './served-folder.ts';
import { RepoMaintenance } from './repo-maintenance.ts';
import { RefView } from './ref-view.ts';

/** Plans run, and commits stored, together at most. */
const MAX_BATCH = 32;

/**
 * A batch of plans run, waiting for the writer: its steps and their objects, the state it leaves
 * (`head`, `tree`), and the batch whose state it was planned on (`basedOn`).
 */
type PlannedBatch = {
  id: number;
  basedOn: number;
  generation: number;
  pending: PendingObjects;
  steps: Step[];
  outcomes: Outcome[];
  timer: StageTimer | null;
  started: number;
  plans: number;
  head: string | null;
  tree: string;
};

export type GitIndexRepoParts = {
  gitDir: string;
  name: string;
  store: ObjectStore;
  served: ServedFolder | null;
  clock: Clock;
  log: Logger;
  /** The commit of `main` and its tree when opened (null: no commit yet). */
  head: { commit: string; tree: string } | null;
  /** The content refs when opened; the repository keeps this map current. */
  refs: Map<string, string>;
  /** Which content refs are served as files. */
  servedRefs: ServedRefs;
  /** Commits between two packings (0: only when asked); null when `git` is missing. */
  packEvery: number | null;
  /** How long no commit must come before packing starts (see `RepoMaintenance`). */
  packQuietMs: number;
  /** Writes batches durably through the commit log (on a thread of its own). */
  writer: BatchWriter;
  /** Whether `update` answers where its batch's time went (`timings`). */
  timings: boolean;
  /** Whether a purge was owed when the repository was opened (a crash came before it finished). */
  purgeOwed: boolean;
  release: () => void;
};

/**
 * An index repository opened by this process: one queue runs every plan in turn, so history is
 * linear and each plan sees the commits before it, those still being written included. The
 * writer (on its own thread) stores the batches queued meanwhile together, each plan still its
 * own commit, and callers are answered once what their plan saw is durable.
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
  /** Packing for clones and purging what no ref reaches. */
  private readonly maintenance: RepoMaintenance;
  private readonly listeners = new Set<(change: RepoChange) => void>();
  private readonly waiting: Waiting[] = [];
  private batchScheduled = false;
  /** Batches planned and waiting for the writer, in order. */
  private unwritten: PlannedBatch[] = [];
  /** The batches being written now. */
  private inWrite: PlannedBatch[] = [];
  /** The writer's run while batches are queued or being written. */
  private writing: Promise<void> | null = null;
  /** Counts the writes that failed: a batch planned before the last failure is never written. */
  private generation = 0;
  /** The last failed write's error, for the batches planned on it. */
  private failure: { err: unknown } | null = null;
  /** The last batch planned, and the last durable (numbered in order). */
  private lastBatch = 0;
  private durableBatch = 0;

  constructor(parts: GitIndexRepoParts, emptyTree: string) {
    this.parts = parts;
    this.gitDir = parts.gitDir;
    this.servedDir = parts.served?.dir ?? null;
    this.headCommit = parts.head?.commit ?? null;
    this.rootTree = parts.head?.tree ?? emptyTree;
    this.current = this.snapshotOf(parts.store, this.headCommit ?? '', this.rootTree, new RefView(parts.refs));
    this.maintenance = new RepoMaintenance({
      ...parts,
      enqueue: (task) => this.enqueue(task),
      eraseLog: () => parts.writer.eraseLog(),
      purged: () => this.changed({ kind: 'purge', refsSet: 0, refsDeleted: 0 }),
    });
  }

  private snapshotOf(reader: PendingObjects | ObjectStore, commit: string, tree: string, refs: RefView): Snapshot {
    return createSnapshot(reader, commit, tree, refs, this.parts.servedRefs);
  }

  head(): string {
    return this.headCommit ?? '';
  }

  snapshot(): Snapshot {
    return this.current;
  }

  async *history(): AsyncIterable<{ commit: string; message: string }> {
    for (let commit: string | null = this.headCommit; commit; ) {
      const { type, content } = await this.parts.store.read(commit);
      if (type !== 'commit') throw new Error(`${commit} is a ${type}, not a commit`);
      const decoded = decodeCommit(content);
      yield { commit, message: decoded.message };
      commit = decoded.parents[0] ?? null;
    }
  }

  onChange(listener: (change: RepoChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  queued(): number {
    return this.waiting.length;
  }

  /** Tells the listeners, each on its own, later: a listener's failure or slowness is never the change's. */
  private changed(change: Omit<RepoChange, 'head'>): void {
    if (this.listeners.size === 0) return;
    const told: RepoChange = { ...change, head: this.headCommit ?? '' };
    setImmediate(() => {
      for (const listener of this.listeners) {
        try {
          listener(told);
        } catch (err) {
          this.parts.log.error('index_listener_failed', { repo: this.parts.name, ...describeError(err) });
        }
      }
    });
  }

  /**
   * Runs `task` after every task queued before it, once no batch is being written (so that it
   * sees `main` and the content refs as stored); a failure does not stop the queue.
   */
  enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.tail.then(() => this.written()).then(task);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Resolves once every batch planned so far is written (or failed). */
  private async written(): Promise<void> {
    while (this.writing) await this.writing;
  }

  update<T>(plan: Plan<T>): Promise<{ commit: string | null; result: T; timings?: Record<string, number>; batchSize?: number }> {
    if (this.closed) return Promise.reject(new Error(`the ${this.parts.name} index repository is closed`));
    return new Promise((resolve, reject) => {
      this.waiting.push({ plan, resolve, reject, queued: performance.now() } as Waiting);
      this.scheduleBatch();
    });
  }

  private scheduleBatch(): void {
    if (this.batchScheduled) return;
    this.batchScheduled = true;
    // Plans do not wait for the batches being written: they run on the state those leave.
    const run = this.tail.then(() => this.runBatch());
    this.tail = run.catch(() => undefined);
  }

  /**
   * Runs the plans waiting now, each on the state the ones before it left (batches still being
   * written included), as one commit each (and its content refs), and queues them for the
   * writer, which stores every batch queued by then as one pack and one move of the refs: a
   * group commit. Every caller is answered after the changes its plan saw are durable; a plan
   * that failed is answered with its error.
   */
  private async runBatch(): Promise<void> {
    this.batchScheduled = false;
    const batch = this.waiting.splice(0, MAX_BATCH);
    if (this.waiting.length > 0) this.scheduleBatch();
    const timer = this.parts.timings ? new StageTimer() : null;
    const started = performance.now();
    const generation = this.generation;
    // The state the batches not yet durable leave, over the stored one.
    const earlier = [...this.inWrite, ...this.unwritten];
    const last = earlier.findLast((planned) => planned.steps.length > 0);
    const pending = new PendingObjects(this.parts.store, earlier.map((planned) => planned.pending));
    const refs = new RefView(this.parts.refs, new Map(earlier.flatMap((planned) => planned.steps.flatMap((step) => step.refs))));
    const start = { head: last ? last.head : this.headCommit, tree: last ? last.tree : this.rootTree, refs, pending };
    const { steps, outcomes, head, tree } = await runPlans(batch, start, {
      store: this.parts.store,
      now: () => this.parts.clock.now(),
      snapshot: (state) => this.snapshotOf(state.pending, state.head ?? '', state.tree, state.refs),
    });
    timer?.mark('plans');
    const planned: PlannedBatch = { id: ++this.lastBatch, basedOn: earlier.at(-1)?.id ?? this.durableBatch, generation, pending, steps, outcomes, timer, started, plans: batch.length, head, tree };
    if (steps.length === 0 && earlier.length === 0) {
      this.durableBatch = planned.id;
      this.answer(planned, null, planned.plans);
      return;
    }
    this.unwritten.push(planned);
    this.writing ??= this.writeQueued();
  }

  /**
   * Writes the batches queued, every one queued by the time the last write ended in one go, until
   * none is left. A failure fails every plan that saw the failed batches' commits: those of the
   * batches planned on them too, which are dropped, and the next plans run on the stored state.
   */
  private async writeQueued(): Promise<void> {
    while (this.unwritten.length > 0) {
      const group = this.unwritten.splice(0, this.unwritten.length);
      const live = group.filter((planned) => planned.generation === this.generation);
      for (const stale of group.filter((planned) => planned.generation !== this.generation)) this.answer(stale, this.failure, stale.plans);
      this.inWrite = live;
      const steps = live.flatMap((planned) => planned.steps);
      const plans = live.reduce((sum, planned) => sum + planned.plans, 0);
      let failure: { err: unknown } | null = null;
      if (steps.length > 0) {
        for (const planned of live) planned.timer?.mark('write_waited');
        failure = await this.store(live, { plans, started: live[0]?.started ?? performance.now() }).then(
          () => null,
          (err: unknown) => ({ err }),
        );
      }
      this.inWrite = [];
      if (failure) {
        this.generation++;
        this.failure = failure;
      } else if (live.length > 0) {
        this.durableBatch = (live.at(-1) as PlannedBatch).id;
      }
      for (const planned of live) this.answer(planned, failure, plans);
    }
    this.writing = null;
  }

  /**
   * Answers a batch's callers: each with its result, or its plan's error; or, when `failure` is
   * set, with that error if its plan saw commits that are not durable (its own batch's, or those
   * of the batches it was planned on).
   */
  private answer(planned: PlannedBatch, failure: { err: unknown } | null, batchSize: number): void {
    const sawUndurable = planned.basedOn > this.durableBatch;
    for (const outcome of planned.outcomes) {
      if (failure && (outcome.afterCommits || sawUndurable)) outcome.waiting.reject(failure.err);
      else if ('error' in outcome) outcome.waiting.reject(outcome.error);
      else outcome.waiting.resolve(planned.timer ? { ...outcome.value, timings: { queued: planned.started - outcome.waiting.queued, ...planned.timer.stages }, batchSize } : outcome.value);
    }
  }

  /**
   * Makes built changes durable and current: the batch's objects as one pack, its content refs and
   * `main`, written through the commit log by the writer (see `RepoWriter`, on its thread), in the
   * order that keeps readers on whole states: the pack, then the content refs set, then `main`,
   * then the content refs deleted; the served files after. A crash after the log flush loses
   * nothing (the next start replays the log); before it, leaves no trace but an unreferenced pack.
   */
  private async store(group: PlannedBatch[], batch: { plans: number; started: number }): Promise<void> {
    const { store, gitDir, log, name, writer } = this.parts;
    const timers = group.flatMap((planned) => (planned.timer ? [planned.timer] : []));
    const mark = (stage: string) => {
      for (const timer of timers) timer.mark(stage);
    };
    const steps = group.flatMap((planned) => planned.steps);
    const commits = steps.flatMap((step) => (step.commit ? [step.commit] : []));
    const last = commits.at(-1) ?? null;
    const { creates, deletes } = netRefChanges(steps, this.parts.refs);
    const served: FileChange[] = [];
    if (this.parts.served) for (const planned of group) served.push(...(await servedChanges(this.parts.servedRefs, planned.pending, planned.steps)));
    if (deletes.length > 0) await markPurgeOwed(gitDir);
    const objects = [...new Map<string, EncodedObject>(group.flatMap((planned) => planned.pending.objects).map((o) => [o.oid, o])).values()];
    const head = last?.oid ?? this.headCommit ?? '';
    mark('prepared');
    const written = await writer.write({ objects, set: [...creates], deleted: deletes, main: last?.oid ?? null, served, head, timings: timers.length > 0 });
    for (const timer of timers) if (written.stages) timer.absorb(written.stages, 'writer_trip');
    if (written.pack) await store.adoptPack(written.pack.name, written.pack.idx);
    for (const planned of group) planned.pending.stored();
    for (const [ref, oid] of creates) this.parts.refs.set(ref, oid);
    for (const ref of deletes) this.parts.refs.delete(ref);
    if (deletes.length > 0) this.maintenance.owePurge();
    if (last) {
      this.headCommit = last.oid;
      this.rootTree = last.tree;
    }
    this.current = this.snapshotOf(store, this.headCommit ?? '', this.rootTree, new RefView(this.parts.refs));
    if (written.servedError) throw deserializeError(written.servedError);
    mark('state_updated');
    for (const commit of commits) log.info('index_commit', { repo: name, commit: commit.oid, message: commit.message.split('\n', 1)[0] });
    if (commits.length === 0) log.info('index_refs', { repo: name, set: creates.size, deleted: deletes.length });
    const took = { plans: batch.plans, seconds: (performance.now() - batch.started) / 1000 };
    this.changed({ kind: commits.length > 0 ? 'commit' : 'refs', refsSet: creates.size, refsDeleted: deletes.length, batch: took });
    this.maintenance.committed(commits.length);
  }

  /**
   * Replaces the history of `main` by the same commits without the files `keep` refuses
   * (`replaceMain`), then brings this repository's state, served folder and listeners along.
   */
  replaceHistory(keep: (path: string) => boolean): Promise<{ commit: string | null; commits: number }> {
    return this.enqueue(async () => {
      const { store, gitDir, served, log, name } = this.parts;
      if (this.headCommit === null) return { commit: null, commits: 0 };
      // Moved outside the commit log: nothing logged may be replayed over it.
      await this.parts.writer.checkpoint();
      const result = await replaceMain(gitDir, store, this.headCommit, keep, async (moved) => {
        this.headCommit = moved.commit;
        this.rootTree = moved.tree;
        this.current = this.snapshotOf(store, moved.commit, moved.tree, new RefView(this.parts.refs));
        this.maintenance.owePurge();
        await served?.reconcile(store, this.rootTree, this.headCommit, this.servedRefFiles());
        log.warn('index_history_replaced', { repo: name, commits: moved.commits, commit: moved.commit });
        this.changed({ kind: 'commit', refsSet: 0, refsDeleted: 0 });
      });
      return { commit: this.headCommit, commits: result.commits };
    });
  }

  /** The files served from content refs: path to blob id. */
  private servedRefFiles(): Map<string, string> {
    const files = new Map<string, string>();
    for (const [ref, oid] of this.parts.refs) {
      const file = this.parts.servedRefs.pathOf(ref);
      if (file !== null) files.set(file, oid);
    }
    return files;
  }

  /**
   * Makes the served folder equal `main` again, after a crash left it behind: all of it when its
   * marker names another commit, else the paths that records replayed from the commit log
   * changed (their files may not have reached the disk before a power cut).
   */
  async repairServed(replayed: string[] = []): Promise<void> {
    const { served, store, log, name } = this.parts;
    await served?.clearStaging();
    if (!served || this.headCommit === null) return;
    if ((await served.servedCommit()) === this.headCommit) {
      if (replayed.length === 0) return;
      const repaired = await served.repairPaths(new Set(replayed), (file) => this.current.servedEntry(file), store);
      log.warn('index_served_repaired', { repo: name, commit: this.headCommit, paths: repaired });
      return;
    }
    const repaired = await served.reconcile(store, this.rootTree, this.headCommit, this.servedRefFiles());
    log.warn('index_served_repaired', { repo: name, commit: this.headCommit, paths: repaired });
  }

  /** Packs loose objects for clones, off the write path (see `RepoMaintenance.maintain`). */
  maintain(options: { deltas: boolean } = { deltas: true }): Promise<void> {
    return this.maintenance.maintain(options);
  }

  /** Removes from disk what no ref reaches (see `RepoMaintenance.purge`). */
  purge(): Promise<void> {
    return this.maintenance.purge();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.maintenance.close();
    await this.tail;
    await this.written();
    await this.parts.writer.close();
    await this.parts.served?.settle();
    await this.parts.store.close();
    this.parts.release();
  }
}
