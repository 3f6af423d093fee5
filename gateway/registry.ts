import fs from 'node:fs';
import path from 'node:path';
import type http from 'node:http';
import type Koa from 'koa';
import type { Config } from './config.ts';
import { systemClock, type Clock } from './clock.ts';
import { createLogger, type Logger } from './log.ts';
import { createApp, type AppDeps } from './app.ts';
import { openIndexRepo, type LocalIndexRepo, type OpenIndexRepoOptions } from '../index-repo/open-index-repo.ts';
import { servedBundles } from './packages/version-index.ts';
import { CONTENT_REFS_FORMAT } from './packages/content-layout.ts';
import { openAccounts, type AccountsOptions } from './accounts/accounts.ts';
import { createMailer } from './mailer.ts';
import { createPermissions } from './permissions.ts';
import { createPackages } from './packages/packages.ts';
import { openNotifier, type NotifierOptions } from './notifications/notifier.ts';
import { indexConfigFile } from './index-config.ts';
import { createIndexFiles, indexFastPath } from './static-index.ts';
import { logFollowUps } from './git-http.ts';
import { createGitProcesses } from '../index-repo/git-processes.ts';
import { createMetrics } from './metrics.ts';
import { startPushMirrors, type PushMirrorTimings } from '../index-repo/push-mirrors.ts';
import { recordsContentRef } from './packages/version-index.ts';
import { serveApp } from './app-server.ts';

/** What tests (and only tests) may swap: the clock, the log, and timings. */
export type RegistryOverrides = {
  clock?: Clock;
  log?: Logger;
  accounts?: Partial<AccountsOptions>;
  notifications?: Partial<NotifierOptions>;
  mirrors?: Partial<PushMirrorTimings>;
};

export type Registry = {
  deps: AppDeps;
  app: Koa;
  /** Listens on the configured host and port (port 0: any free port). */
  listen(): Promise<{ url: string; port: number }>;
  /** The HTTP server once listening. */
  server(): http.Server | null;
  /** The URL of `GET /metrics` once listening, on its own port; null when METRICS_PORT is unset. */
  metricsUrl(): string | null;
  /**
   * Stops taking requests, lets those in flight finish (closing their connections after the
   * shutdown grace period) and queued commits too, and releases the data folder.
   */
  close(): Promise<void>;
};

/** The data folder's layout, in one place. */
export function dataPaths(dataDir: string) {
  return {
    publicGit: path.join(dataDir, 'index.git'),
    publicServed: path.join(dataDir, 'index'),
    privateGit: path.join(dataDir, 'private.git'),
    accounts: path.join(dataDir, 'accounts.sqlite'),
    notifications: path.join(dataDir, 'notifications.sqlite'),
    outbox: path.join(dataDir, 'outbox'),
  };
}

/**
 * Opens one of a data folder's two index repositories as the registry lays them out: `main`
 * with the metadata, content refs per package, bundles served from their refs (public only).
 */
export function openPackageRepo(
  paths: ReturnType<typeof dataPaths>,
  which: 'public' | 'private',
  options: Pick<OpenIndexRepoOptions, 'clock' | 'log' | 'required' | 'packEvery' | 'timings' | 'writerNice'>,
): Promise<LocalIndexRepo> {
  const isPublic = which === 'public';
  return openIndexRepo({
    ...options,
    gitDir: isPublic ? paths.publicGit : paths.privateGit,
    servedDir: isPublic ? paths.publicServed : null,
    name: which,
    servedRefs: servedBundles,
    format: CONTENT_REFS_FORMAT,
  });
}

/** The composition root: opens every piece of state under `config.dataDir` and builds the app. */
export async function openRegistry(config: Config, overrides: RegistryOverrides = {}): Promise<Registry> {
  const clock = overrides.clock ?? systemClock;
  const log = overrides.log ?? createLogger();
  const paths = dataPaths(config.dataDir);
  fs.mkdirSync(config.dataDir, { recursive: true });
  // The process's own metrics (memory, event loop, GC) only where someone can read them.
  const metrics = createMetrics({ clock, process: config.metrics !== null });

  const index = await openPackageRepo(paths, 'public', { clock, log, timings: config.logTimings, writerNice: config.writerNice, required: { 'config.json': indexConfigFile(config) } });
  metrics.watchRepo('public', index);
  const closers: Array<() => Promise<void> | void> = [() => index.close()];
  try {
    const privateIndex = await openPackageRepo(paths, 'private', { clock, log, timings: config.logTimings, writerNice: config.writerNice, required: {} });
    metrics.watchRepo('private', privateIndex);
    closers.unshift(() => privateIndex.close());
    const accounts = openAccounts({ file: paths.accounts, clock, log, ...overrides.accounts });
    closers.push(() => accounts.close());
    const mailer = createMailer({ config, outbox: paths.outbox, log, metrics });
    closers.push(() => mailer.close());
    const notifier = openNotifier({ config, file: paths.notifications, clock, log, ...overrides.notifications });
    metrics.watchNotifications(() => notifier.backlog());
    closers.unshift(() => notifier.close());
    const permissions = createPermissions({ accounts });
    const packages = await createPackages({ index, privateIndex, notifier, clock, log });
    const indexFiles = createIndexFiles(index);
    const git = createGitProcesses({ processes: config.git.processes, queueLength: config.git.queue, timeoutMs: config.git.timeoutSeconds * 1000, niceness: config.git.nice, log, followUp: logFollowUps(log, metrics) });
    metrics.watchGit(() => git.counts());
    closers.unshift(() => git.close());
    // Started once the content refs are in line with main (createPackages): each mirror is brought up to date, then follows commits.
    const mirrors = startPushMirrors({
      repo: index,
      mirrors: config.mirrors,
      force: config.mirrorForce,
      isRecorded: recordsContentRef,
      log,
      clock,
      ...(overrides.mirrors ? { timings: overrides.mirrors } : {}),
    });
    closers.unshift(() => mirrors.close());
    metrics.watchMirrors(() => mirrors.status());
    const deps: AppDeps = { config, log, clock, index, indexFiles, privateIndex, accounts, mailer, permissions, packages, notifier, git, metrics, mirrors };
    const app = createApp(deps);
    return withServer(deps, app, closers);
  } catch (err) {
    for (const close of closers) await close();
    throw err;
  }
}

function withServer(deps: AppDeps, app: Koa, closers: Array<() => Promise<void> | void>): Registry {
  const served = serveApp({
    settings: deps.config,
    log: deps.log,
    metrics: deps.metrics,
    app,
    // Ready files of the public index are answered before Koa; every other request goes to the app.
    fastPath: indexFastPath(deps),
    listening: { url: deps.config.registryUrl },
    // Login fetches held open for the link would otherwise keep the server up to 30 s.
    beforeShutdown: () => deps.accounts.stopWaiting(),
    // Git's answers, which the spawner writes on connections handed to it.
    handedOff: { settled: () => deps.git.settled(), stop: () => deps.git.close() },
    closers,
  });
  return { deps, app, ...served };
}
