import fs from 'node:fs';
import path from 'node:path';
import type { ReplicaConfig } from '../config.ts';
import { redactUrl } from '../config-readers.ts';
import { systemClock, type Clock } from '../clock.ts';
import { createLogger, type Logger } from '../log.ts';
import { serveApp, type AppServer } from '../app-server.ts';
import { createIndexFiles, indexFastPath } from '../static-index.ts';
import { createMetrics } from '../metrics.ts';
import { logFollowUps } from '../git-http.ts';
import { createGitProcesses } from '../../index-repo/git-processes.ts';
import { takeProcessLock } from '../../index-repo/process-lock.ts';
import { ReplicaRepo } from '../../index-repo/replica-repo.ts';
import { ServedTree } from '../../index-repo/served-tree.ts';
import { Follower } from './follower.ts';
import { createReplicaApp } from './replica-app.ts';

/** What tests (and only tests) may swap. */
export type ReplicaOverrides = {
  log?: Logger;
  clock?: Clock;
  /** How long a tree stays on disk after it stopped being served (10 s). */
  graceMs?: number;
};

/** A replica's folder: its copy of the index, the folders of its served trees, and the link to the one served. */
export function replicaPaths(dataDir: string) {
  return {
    git: path.join(dataDir, 'index.git'),
    served: path.join(dataDir, 'served'),
    /** What nginx serves as `/index/` (its `root` is the data folder, as for the primary's). */
    link: path.join(dataDir, 'index'),
  };
}

export type Replica = AppServer & { follower: Follower; paths: ReturnType<typeof replicaPaths> };

/** How long a tree stays on disk after it stopped being served, for readers still walking it. */
const GRACE_MS = 10_000;

/**
 * The composition root of a read replica (scripts/replica.ts): takes its folder (one process at
 * a time), opens its copy of the index, serves the state it last checked (after a SIGKILL too),
 * starts following the source, and builds its HTTP app.
 */
export async function openReplica(config: ReplicaConfig, overrides: ReplicaOverrides = {}): Promise<Replica> {
  const log = overrides.log ?? createLogger();
  const clock = overrides.clock ?? systemClock;
  // The process's own metrics (memory, event loop, GC) only where someone can read them.
  const metrics = createMetrics({ clock, process: config.metrics !== null });
  const paths = replicaPaths(config.dataDir);
  fs.mkdirSync(config.dataDir, { recursive: true });
  const closers: Array<() => Promise<void> | void> = [takeProcessLock(config.dataDir)];
  try {
    const repo = await ReplicaRepo.open(paths.git);
    closers.unshift(() => repo.close());
    const tree = new ServedTree({ dir: paths.served, link: paths.link, store: repo.store });
    await tree.open();
    const follower = new Follower({
      repo,
      tree,
      log,
      clock,
      source: config.source,
      intervalMs: config.intervalMs,
      fetchTimeoutMs: config.fetchTimeoutMs,
      graceMs: overrides.graceMs ?? GRACE_MS,
    });
    closers.unshift(() => follower.close());
    await follower.start();
    const git = createGitProcesses({ processes: config.git.processes, queueLength: config.git.queue, timeoutMs: config.git.timeoutSeconds * 1000, niceness: config.git.nice, log, followUp: logFollowUps(log, metrics) });
    closers.unshift(() => git.close());
    metrics.watchGit(() => git.counts());
    const indexFiles = createIndexFiles({ snapshot: () => follower.current() });
    const app = createReplicaApp({ log, metrics, follower, indexFiles, git, gitDir: paths.git, primaryUrl: config.primaryUrl, webhookSecret: config.webhookSecret });
    const served = serveApp({
      settings: config,
      log,
      metrics,
      app,
      fastPath: indexFastPath({ indexFiles, log, metrics }),
      listening: { primary: config.primaryUrl, source: redactUrl(config.source) },
      handedOff: { settled: () => git.settled(), stop: () => git.close() },
      closers,
    });
    return { ...served, follower, paths };
  } catch (err) {
    for (const close of closers) await close();
    throw err;
  }
}
