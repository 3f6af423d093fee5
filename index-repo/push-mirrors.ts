import type { Clock, IndexRepo, Logger, Snapshot } from './types.ts';
import { retryDelay } from './retry-delay.ts';
import { SlotQueue } from './slot-queue.ts';
import { scrubRemote, type GitRemote } from './git-remote.ts';
import { MirrorSyncError, syncMirror, type Divergence, type SyncLimits, type SyncOutcome } from './mirror-sync.ts';

/** Timings, all with defaults; tests shorten them. */
export type PushMirrorTimings = SyncLimits & {
  /** A sync starts once no change has come for this long, so that the commits of a burst go in one push, */
  settleMs: number;
  /** or this long after the first change waiting, whichever is sooner. */
  maxSettleMs: number;
  /** The first retry after a failure; each further one doubles, up to `maxDelayMs` (with jitter). */
  initialDelayMs: number;
  maxDelayMs: number;
  /** How long `close` lets a push under way finish before killing it. */
  closeWaitMs: number;
  /** Pushes at once, over all mirrors (never more than one per mirror). */
  concurrency: number;
  /** A sync lists the mirror's refs when the last listing is older than this (or a sync failed since); others trust what the last sync left. */
  relistMs: number;
};

export const defaultTimings: PushMirrorTimings = {
  settleMs: 200,
  maxSettleMs: 2000,
  initialDelayMs: 1000,
  maxDelayMs: 5 * 60 * 1000,
  pushTimeoutMs: 2 * 60 * 60 * 1000,
  idleMs: 2 * 60 * 1000,
  listTimeoutMs: 2 * 60 * 1000,
  closeWaitMs: 5000,
  concurrency: 2,
  relistMs: 10 * 60 * 1000,
};

export type PushMirrorsOptions = {
  repo: IndexRepo;
  mirrors: GitRemote[];
  /** Overwrite a mirror that was rewritten or is ahead (`MIRROR_FORCE`). */
  force: boolean;
  isRecorded(snapshot: Snapshot, ref: string): Promise<boolean>;
  log: Logger;
  clock: Clock;
  timings?: Partial<PushMirrorTimings>;
};

/**
 * What is known of one mirror, in memory (a restart starts it afresh, and the first sync fills
 * it in): `in-sync` once a sync left it equal to the registry, `behind` while changes wait,
 * `failing` while syncs fail (unreachable, refused, killed), `diverged` when it holds refs the
 * registry did not overwrite.
 */
export type MirrorStatus = {
  mirror: string;
  state: 'in-sync' | 'behind' | 'failing' | 'diverged';
  pushing: boolean;
  lastSuccess: Date | null;
  lastError: { at: Date; message: string } | null;
  /** Since when a change of the registry has been waiting to reach this mirror; null when none is. */
  backlogSince: Date | null;
  consecutiveFailures: number;
  /** The refs last reported as diverged (a few). */
  diverged: Divergence[];
};

export interface PushMirrors {
  status(): MirrorStatus[];
  /** Stops following changes; a push under way may finish for `closeWaitMs`, then is killed. */
  close(): Promise<void>;
}

/**
 * Pushes the repository to its mirrors after each change, off the commit path. Per mirror,
 * pushes coalesce: one runs at a time, changes that arrive meanwhile are taken by one more
 * sync after it, and a failed sync is retried with backoff (changes arriving during the wait
 * join that retry). At start each mirror is synced once: a sync compares refs, so it is
 * idempotent, and nothing about a mirror needs to be kept on disk.
 */
export function startPushMirrors(options: PushMirrorsOptions): PushMirrors {
  const timings = { ...defaultTimings, ...options.timings };
  // Each mirror waits for a slot with at most one sync, so the queue never refuses one.
  const slots = new SlotQueue({ slots: timings.concurrency, length: options.mirrors.length });
  const pushers = options.mirrors.map((remote) => new MirrorPusher(remote, options, timings, slots));
  if (options.force && pushers.length > 0) options.log.warn('mirror_force', { mirrors: options.mirrors.map((m) => m.name) });
  const stop = options.repo.onChange((change) => {
    if (change.kind === 'purge') return;
    for (const pusher of pushers) pusher.changed(timings.settleMs);
  });
  for (const pusher of pushers) pusher.changed(0);
  return {
    status: () => pushers.map((pusher) => pusher.status()),
    async close() {
      stop();
      await Promise.all(pushers.map((pusher) => pusher.close()));
    },
  };
}

type Kind = 'ok' | 'failing' | 'diverged';

class MirrorPusher {
  private readonly remote: GitRemote;
  private readonly options: PushMirrorsOptions;
  private readonly timings: PushMirrorTimings;
  private readonly slots: SlotQueue;
  private readonly stopping = new AbortController();
  /** Set by `close`: no new sync starts. */
  private closing = false;
  private timer: NodeJS.Timeout | null = null;
  /** When the waiting of `timer` began, while it waits for changes to settle (null: it waits to retry). */
  private settling: number | null = null;
  private running: Promise<void> | null = null;
  /** A change not yet taken by a sync, since when. */
  private pendingSince: Date | null = null;
  /** The changes the sync under way (or the failed one) was to bring, since when. */
  private takenSince: Date | null = null;
  private kind: Kind | null = null;
  /** The mirror's refs as the last sync left them, and when they were last listed; null: list them. */
  private known: { refs: ReadonlyMap<string, string>; listedAt: number } | null = null;
  private readonly state: Omit<MirrorStatus, 'state' | 'backlogSince'> & { synced: boolean };

  constructor(remote: GitRemote, options: PushMirrorsOptions, timings: PushMirrorTimings, slots: SlotQueue) {
    this.remote = remote;
    this.options = options;
    this.timings = timings;
    this.slots = slots;
    this.state = { mirror: remote.name, pushing: false, lastSuccess: null, lastError: null, consecutiveFailures: 0, diverged: [], synced: false };
  }

  status(): MirrorStatus {
    const { synced, ...state } = this.state;
    const backlog = [this.pendingSince, this.takenSince].filter((d) => d !== null).sort((a, b) => a.getTime() - b.getTime())[0] ?? null;
    const stateName = this.kind === 'failing' ? 'failing' : this.kind === 'diverged' ? 'diverged' : synced && backlog === null ? 'in-sync' : 'behind';
    return { ...state, diverged: [...state.diverged], state: stateName, backlogSince: backlog };
  }

  /**
   * A change to bring to the mirror: a sync starts once changes have settled for `quietMs` (at
   * most `maxSettleMs` after the first), unless one runs or a retry waits: either takes it.
   */
  changed(quietMs: number): void {
    if (this.closing) return;
    this.pendingSince ??= this.options.clock.now();
    if (this.running || (this.timer && this.settling === null)) return;
    if (this.timer) clearTimeout(this.timer);
    const now = performance.now();
    this.settling ??= now;
    this.wake(Math.max(0, Math.min(quietMs, this.settling + this.timings.maxSettleMs - now)), this.settling);
  }

  private wake(delayMs: number, settling: number | null): void {
    this.settling = settling;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.settling = null;
      this.running = this.run()
        .catch((err: unknown) => this.options.log.error('mirror_internal', { mirror: this.remote.name, error: scrubRemote(String(err), this.remote) }))
        .finally(() => (this.running = null));
    }, delayMs);
  }

  /** Syncs while changes are waiting; after a failure, sets the retry and returns. */
  private async run(): Promise<void> {
    while (this.pendingSince !== null && !this.closing) {
      this.takenSince = this.pendingSince;
      this.pendingSince = null;
      let outcome: SyncOutcome;
      const started = performance.now();
      try {
        outcome = await this.sync();
      } catch (err) {
        this.failed(err);
        return;
      }
      this.synced(outcome, performance.now() - started);
      if (outcome.diverged.length > 0) return;
    }
  }

  /** One sync, once a slot is free; the refs it leaves are kept to spare the next one a listing. */
  private async sync(): Promise<SyncOutcome> {
    const release = await this.slots.acquire(this.stopping.signal).catch(() => {
      throw new MirrorSyncError('stopped');
    });
    if (this.closing) {
      release();
      throw new MirrorSyncError('stopped');
    }
    this.state.pushing = true;
    try {
      const { repo, force, isRecorded } = this.options;
      const fresh = this.known !== null && performance.now() - this.known.listedAt < this.timings.relistMs;
      const known = fresh ? this.known : null;
      this.known = null;
      const outcome = await syncMirror({ repo, remote: this.remote, force, isRecorded, limits: this.timings, signal: this.stopping.signal, known: known?.refs ?? null });
      if (outcome.holds) this.known = { refs: outcome.holds, listedAt: known?.listedAt ?? performance.now() };
      return outcome;
    } finally {
      this.state.pushing = false;
      release();
    }
  }

  private synced(outcome: SyncOutcome, ms: number): void {
    const { log, clock } = this.options;
    this.state.synced = true;
    if (outcome.pushes > 0) log.info('mirror_pushed', { mirror: this.remote.name, set: outcome.set, deleted: outcome.deleted, pushes: outcome.pushes, durationMs: Math.round(ms) });
    if (outcome.diverged.length > 0) {
      // The mirror is as close as it gets without overwriting it: retried (the operator may mend it), reported once.
      this.state.diverged = outcome.diverged.slice(0, 10);
      this.retry(`the mirror holds ${outcome.diverged.length} ref(s) the registry did not write`);
      this.enter('diverged', () =>
        log.error('mirror_diverged', { mirror: this.remote.name, refs: outcome.diverged.length, diverged: this.state.diverged, hint: 'see the README, Mirrors: MIRROR_FORCE' }),
      );
      return;
    }
    this.takenSince = null;
    this.state.lastSuccess = clock.now();
    this.state.consecutiveFailures = 0;
    this.state.diverged = [];
    this.enter('ok', (previous) => previous !== null && log.info('mirror_recovered', { mirror: this.remote.name }));
  }

  private failed(err: unknown): void {
    if (this.closing) return;
    const message = scrubRemote(err instanceof Error ? err.message : String(err), this.remote);
    const retryInMs = this.retry(message);
    this.enter('failing', () => this.options.log.error('mirror_failed', { mirror: this.remote.name, error: message, retryInMs }));
  }

  /** Records the error, puts the changes back as waiting, and sets the retry; answers its delay. */
  private retry(message: string): number {
    this.state.lastError = { at: this.options.clock.now(), message };
    this.state.consecutiveFailures++;
    if (this.takenSince && (this.pendingSince === null || this.takenSince < this.pendingSince)) this.pendingSince = this.takenSince;
    this.takenSince = null;
    this.pendingSince ??= this.options.clock.now();
    const delay = retryDelay(this.state.consecutiveFailures, this.timings.initialDelayMs, this.timings.maxDelayMs);
    if (!this.closing && !this.timer) this.wake(delay, null);
    return delay;
  }

  /** Moves to `kind`, telling the log once per change of state. */
  private enter(kind: Kind, tell: (previous: Kind | null) => unknown): void {
    const previous = this.kind;
    this.kind = kind;
    if (previous !== kind) tell(previous);
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const running = this.running;
    if (running) {
      let waited: NodeJS.Timeout | undefined;
      await Promise.race([running, new Promise((resolve) => (waited = setTimeout(resolve, this.timings.closeWaitMs)))]);
      clearTimeout(waited);
    }
    this.stopping.abort();
    await running;
  }
}
