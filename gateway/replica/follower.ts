import type { Clock } from '../clock.ts';
import type { Logger } from '../log.ts';
import { describeError } from '../log.ts';
import { redactUrl } from '../config-readers.ts';
import type { RefState, ReplicaRepo } from '../../index-repo/replica-repo.ts';
import type { ServedTree } from '../../index-repo/served-tree.ts';
import type { Snapshot } from '../../index-repo/types.ts';
import { servedBundles } from '../packages/version-index.ts';
import { checkState, IncompleteState, type CheckedState, type KnownState, type ReplicaPackages } from './replica-state.ts';
import { coalesced } from './coalesced.ts';

export type FollowerOptions = {
  repo: ReplicaRepo;
  tree: ServedTree;
  log: Logger;
  clock: Clock;
  /** The Git URL fetched from. */
  source: string;
  /** Milliseconds between fetches when nothing asks for one. */
  intervalMs: number;
  fetchTimeoutMs: number;
  /** How long a tree stays on disk after it stopped being served, for readers still walking it. */
  graceMs: number;
  /** Updates between two packings of the repository's small packs. */
  packEvery?: number;
};

/** Why a fetch was asked for. */
export type SyncReason = 'start' | 'timer' | 'webhook' | 'retry';

/** How soon a failed fetch, or a state caught between two commits of the source, is fetched again (doubling each time, up to the interval). */
const RETRY_MS = 250;

/** What a replica serves now and how current it is. */
export type FollowerStatus = { commit: string | null; versions: number; fetchedAt: string | null; updatedAt: string | null };

/**
 * Keeps a replica's copy of the index current and serves one checked state at a time. A sync
 * fetches from the source (on a timer, and at once when asked: a webhook), checks the state
 * fetched (replica-state.ts), builds its served tree, then switches: first the packages the Git
 * views hide versions by, then the refs Git serves, then the tree a static server serves, then
 * the snapshot `/index/` answers from. Syncs run one at a time, coalesced (coalesced.ts); a
 * revoke's content is purged from disk once it is no longer served.
 */
export class Follower {
  private readonly options: FollowerOptions;
  private readonly stop = new AbortController();
  private readonly trigger: () => Promise<void>;
  private timer: NodeJS.Timeout | null = null;
  private snapshot: Snapshot | null = null;
  private known: KnownState & { versions: number } = { packages: new Map(), refs: new Map(), versions: 0 };
  private failures = 0;
  private updates = 0;
  private fetchedAt: Date | null = null;
  private updatedAt: Date | null = null;

  constructor(options: FollowerOptions) {
    this.options = options;
    this.trigger = coalesced(() => this.run());
  }

  /** The state `/index/` serves, or null before there is one. */
  current(): Snapshot | null {
    return this.snapshot;
  }

  /** The packages the Git views show, by case-insensitive name. */
  packages(): ReplicaPackages {
    return this.known.packages;
  }

  status(): FollowerStatus {
    return {
      commit: this.snapshot?.commit ?? null,
      versions: this.known.versions,
      fetchedAt: this.fetchedAt?.toISOString() ?? null,
      updatedAt: this.updatedAt?.toISOString() ?? null,
    };
  }

  /** Serves the last state this replica checked (after a restart, a SIGKILL included), then fetches. */
  async start(): Promise<void> {
    await this.resume();
    void this.sync('start');
  }

  /** Asks for a fetch now; resolves once a fetch begun after the call has ended (coalesced). */
  sync(reason: SyncReason): Promise<void> {
    if (this.stop.signal.aborted) return Promise.resolve();
    if (reason === 'webhook') this.options.log.info('replica_sync_asked', { reason });
    return this.trigger();
  }

  /** Stops fetching (a fetch under way is killed) and waits for the sync under way. */
  async close(): Promise<void> {
    this.stop.abort();
    if (this.timer) clearTimeout(this.timer);
    await this.trigger();
  }

  private async run(): Promise<void> {
    if (this.stop.signal.aborted) return;
    if (this.timer) clearTimeout(this.timer);
    let next = this.options.intervalMs;
    try {
      const outcome = await this.update();
      // A state caught between two commits of the source is fetched again soon, then less and less often.
      this.failures = outcome === 'incomplete' ? this.failures + 1 : 0;
      if (outcome === 'updated') next = Math.min(next, this.options.graceMs + 100);
      await this.options.tree.collect(this.options.graceMs, Date.now());
    } catch (err) {
      if (this.stop.signal.aborted) return;
      this.failures++;
      const { message } = describeError(err);
      this.options.log.warn('replica_sync_failed', { source: redactUrl(this.options.source), failures: this.failures, message: redactUrl(String(message)) });
    }
    if (this.failures > 0) next = Math.min(next, RETRY_MS * 2 ** Math.min(this.failures - 1, 16));
    if (!this.stop.signal.aborted) this.timer = setTimeout(() => void this.sync('timer'), next).unref();
  }

  /** One fetch and, when the source moved, the switch to its state. */
  private async update(): Promise<'unchanged' | 'updated' | 'incomplete' | 'behind'> {
    const { repo, log } = this.options;
    const started = performance.now();
    const fetched = await repo.fetch(this.options.source, { timeoutMs: this.options.fetchTimeoutMs, signal: this.stop.signal });
    const fetchMs = Math.round(performance.now() - started);
    this.fetchedAt = this.options.clock.now();
    if (fetched.main === null) throw new Error('the source has no main branch');
    const served = repo.served();
    if (this.snapshot !== null && fetched.main === served.main && holds(fetched, served)) return 'unchanged';
    let rewritten = false;
    if (served.main !== null && fetched.main !== served.main && !(await repo.isAncestor(served.main, fetched.main))) {
      if (await repo.isAncestor(fetched.main, served.main)) {
        log.warn('replica_source_behind', { commit: fetched.main, served: served.main });
        return 'behind';
      }
      log.warn('replica_history_rewritten', { commit: fetched.main, served: served.main });
      rewritten = true;
    }
    const checked = await this.check({ main: fetched.main, refs: fetched.refs }, 'fetched');
    if (checked === null) return 'incomplete';
    // The history replaced holds what the primary removed (the former layout's bundles): purged too.
    await this.apply(checked, 'replica_updated', started, { fetchMs }, rewritten);
    return 'updated';
  }

  /** The checked state, or null (logged) when the state is not whole. */
  private async check(state: RefState & { main: string }, which: string): Promise<CheckedState | null> {
    try {
      return await checkState(this.options.repo, state, this.known);
    } catch (err) {
      if (!(err instanceof IncompleteState)) throw err;
      this.options.log.warn('replica_state_incomplete', { state: which, commit: state.main, problem: err.message });
      return null;
    }
  }

  /** Builds the state's tree, then switches Git's view, Git's refs, the tree and the snapshot to it, in that order. */
  private async apply(checked: CheckedState, event: string, started: number, fields: Record<string, number> = {}, purge = false): Promise<void> {
    const { repo, tree, log } = this.options;
    tree.setExtras(checked.bundles);
    const building = performance.now();
    const built = await tree.build(checked.rootTree);
    const buildMs = Math.round(performance.now() - building);
    const snapshot = await repo.snapshot(checked, servedBundles);
    this.known = { packages: checked.packages, refs: checked.refs, versions: checked.versions };
    const moved = await repo.promote(checked);
    await tree.switchTo(built.key, Date.now());
    this.snapshot = snapshot;
    this.updatedAt = this.options.clock.now();
    const ms = Math.round(performance.now() - started);
    log.info(event, { commit: checked.main, versions: checked.versions, refsSet: moved.set, refsDeleted: moved.deleted, folders: built.written, ...fields, buildMs, ms });
    if (moved.deleted > 0 || purge) {
      const purging = performance.now();
      await repo.purge();
      log.info('replica_purged', { refsDeleted: moved.deleted, ms: Math.round(performance.now() - purging) });
    } else if (++this.updates % (this.options.packEvery ?? 50) === 0) {
      await repo.pack();
    }
  }

  /** Serves the state last promoted, or else the one last fetched, if it is whole. */
  private async resume(): Promise<void> {
    const { repo } = this.options;
    const started = performance.now();
    const served = repo.served();
    // Bundles served before were checked before: only the others are read.
    this.known = { packages: new Map(), refs: served.refs, versions: 0 };
    for (const [which, state] of [['served', served], ['fetched', await repo.incoming()]] as const) {
      if (state.main === null) continue;
      const checked = await this.check({ main: state.main, refs: state.refs }, which);
      if (checked === null) continue;
      await this.apply(checked, 'replica_resumed', started);
      return;
    }
  }
}

/** Whether `fetched` holds every content ref of `served` as it is. */
function holds(fetched: RefState, served: RefState): boolean {
  for (const [ref, oid] of served.refs) if (fetched.refs.get(ref) !== oid) return false;
  return true;
}
