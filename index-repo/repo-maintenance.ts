import { describeError, type Logger } from './types.ts';
import type { ObjectStore } from './object-store.ts';
import { clearPurgeOwed } from './marks.ts';
import { purgeUnreachable, repack } from './maintenance.ts';

/** Packing owed for this many times `packEvery` commits is done at once, without the search for deltas. */
const BUSY_PACKING = 10;

export type RepoMaintenanceParts = {
  gitDir: string;
  name: string;
  store: ObjectStore;
  log: Logger;
  /** Commits between two packings (0: only when asked); null when `git` is missing. */
  packEvery: number | null;
  /** How long no commit must come before owed packing starts. */
  packQuietMs: number;
  /** Whether a purge was owed when the repository was opened (a crash came before it finished). */
  purgeOwed: boolean;
  /** Runs a task in the repository's queue, once nothing is being written. */
  enqueue<T>(task: () => Promise<T>): Promise<T>;
  /** Checkpoints the commit log, then overwrites it with zeros. */
  eraseLog(): Promise<void>;
  /** Tells the repository's listeners that a purge removed what no ref reaches. */
  purged(): void;
};

/**
 * Git maintenance of one repository, off its write path and one run at a time: packing the small
 * packs of commits together for clones (`git repack`), owed after `packEvery` commits, and
 * purging what no ref reaches (after a revoke, or a history rewrite). After each, the
 * repository's queue reads the packs again.
 */
export class RepoMaintenance {
  private readonly parts: RepoMaintenanceParts;
  private closed = false;
  private commitsSincePack = 0;
  private packing: Promise<void> | null = null;
  /** The packing that waits for a quiet moment. */
  private quietPacking: NodeJS.Timeout | null = null;
  /** Git maintenance (packing, purging), one run at a time. */
  private tail: Promise<unknown> = Promise.resolve();
  /** A purge waiting for its turn, which later calls share. */
  private nextPurge: Promise<void> | null = null;
  /** Whether objects may have become unreachable (refs deleted, history replaced) since the last purge. */
  private purgeOwed: boolean;
  /** The purge under way. */
  private purging: Promise<void> | null = null;

  constructor(parts: RepoMaintenanceParts) {
    this.parts = parts;
    this.purgeOwed = parts.purgeOwed;
  }

  /** Counts commits made durable, and schedules the packing they make owed. */
  committed(commits: number): void {
    this.commitsSincePack += commits;
    this.schedulePacking();
  }

  /** Records that objects may have become unreachable: the next `purge` runs. */
  owePurge(): void {
    this.purgeOwed = true;
  }

  /**
   * Packing is owed after `packEvery` commits. It waits for a moment without commits
   * (`packQuietMs`): its search for deltas costs more CPU than the publishes it packs, and would
   * take it from them. When publishes keep coming for BUSY_PACKING times as long, the packs are
   * folded at once without that search (cheap: see `repack`), so that their number stays bounded.
   */
  private schedulePacking(): void {
    const { packEvery, packQuietMs } = this.parts;
    if (!packEvery || this.commitsSincePack < packEvery || this.packing || this.closed) return;
    if (this.commitsSincePack >= packEvery * BUSY_PACKING || packQuietMs === 0) {
      this.cancelQuietPacking();
      void this.maintain({ deltas: packQuietMs === 0 }).catch(() => undefined);
      return;
    }
    if (this.quietPacking) {
      this.quietPacking.refresh();
      return;
    }
    this.quietPacking = setTimeout(() => {
      this.quietPacking = null;
      if (!this.closed && !this.packing) void this.maintain().catch(() => undefined);
    }, packQuietMs);
    this.quietPacking.unref();
  }

  private cancelQuietPacking(): void {
    if (this.quietPacking) clearTimeout(this.quietPacking);
    this.quietPacking = null;
  }

  /** Runs Git maintenance after the maintenance under way: packing and purging never overlap. */
  private inTurn<T>(task: () => Promise<T>): Promise<T> {
    const run = this.tail.then(task);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Reads the packs again after maintenance changed them, in the commit queue. */
  private afterMaintenance(): Promise<void> {
    const { store } = this.parts;
    return this.parts.enqueue(() => store.rescanPacks());
  }

  /** Packs loose objects for clones, off the write path; commits go on meanwhile. Without `deltas`, packs are folded without searching for deltas. */
  maintain(options: { deltas: boolean } = { deltas: true }): Promise<void> {
    const { packEvery, gitDir, store, log, name } = this.parts;
    if (packEvery === null) return Promise.reject(new Error('packing needs the git command'));
    this.cancelQuietPacking();
    this.packing ??= this.inTurn(async () => {
      this.commitsSincePack = 0;
      const started = performance.now();
      try {
        await repack(gitDir, options);
        await this.afterMaintenance();
        log.info('index_packed', { repo: name, packs: store.packNames().length, deltas: options.deltas, ms: Math.round(performance.now() - started) });
      } catch (err) {
        log.error('index_pack_failed', { repo: name, ...describeError(err) });
        throw err;
      } finally {
        this.packing = null;
      }
    });
    return this.packing;
  }

  /**
   * Removes from disk every object no ref reaches, after the log that holds recent records' content
   * is flushed into place and zeroed; calls made while one runs share the next run.
   */
  purge(): Promise<void> {
    const { packEvery, gitDir, store, log, name } = this.parts;
    if (this.nextPurge) return this.nextPurge;
    // Nothing became unreachable since the purge under way (if any) started.
    if (!this.purgeOwed) return this.purging ?? Promise.resolve();
    if (packEvery === null) return Promise.reject(new Error('purging needs the git command'));
    const run = this.inTurn(async () => {
      // From here on, a new call needs a run after this one: it may have deleted refs since.
      this.nextPurge = null;
      this.purgeOwed = false;
      this.purging = run;
      const started = performance.now();
      try {
        // The log holds the content of recent records: flushed into place, then zeroed, before the packs go.
        await this.parts.enqueue(() => this.parts.eraseLog());
        await purgeUnreachable(gitDir);
        await this.afterMaintenance();
        if (!this.purgeOwed) clearPurgeOwed(gitDir);
        log.info('index_purged', { repo: name, packs: store.packNames().length, ms: Math.round(performance.now() - started) });
        this.parts.purged();
      } catch (err) {
        this.purgeOwed = true;
        log.error('index_purge_failed', { repo: name, ...describeError(err) });
        throw err;
      } finally {
        this.purging = null;
      }
    });
    this.nextPurge = run;
    return run;
  }

  /** No packing starts after this; waits for the maintenance under way. */
  async close(): Promise<void> {
    this.closed = true;
    this.cancelQuietPacking();
    await this.tail;
  }
}
