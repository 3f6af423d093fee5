import Koa from 'koa';
import Router from '@koa/router';
import type { Config } from './config.ts';
import type { Clock } from './clock.ts';
import type { Logger } from './log.ts';
import { describeError } from './log.ts';
import { logAborted, logRequest } from './log-request.ts';
import { lingeringClose } from './lingering-close.ts';
import { isDiskFull } from './disk-full.ts';
import { StageTimer } from '../index-repo/stage-timer.ts';
import { ApiError, fail, type ErrorCode } from './errors.ts';
import type { IndexRepo } from '../index-repo/types.ts';
import type { Accounts } from './accounts/accounts.ts';
import type { Mailer } from './mailer.ts';
import type { Permissions } from './permissions.ts';
import type { Packages } from './packages/packages.ts';
import type { Notifier } from './notifications/notifier.ts';
import type { GitProcesses } from '../index-repo/git-processes.ts';
import type { Metrics } from './metrics.ts';
import type { PushMirrors } from '../index-repo/push-mirrors.ts';
import { authenticate } from './authenticate.ts';
import { identifyClient } from './client-address.ts';
import { sessionRoutes } from './routes/session.ts';
import { loginLinkRoutes } from './routes/login-link.ts';
import { sessionsRoutes } from './routes/sessions.ts';
import { tokenRoutes } from './routes/tokens.ts';
import { identityRoutes } from './routes/identities.ts';
import { packageRoutes } from './routes/packages.ts';
import { privateRoutes } from './routes/private.ts';
import { staticIndex, type IndexFiles } from './static-index.ts';
import { gitHttp, registryRepositories } from './git-http.ts';
import { answerCutShort } from './git-connection.ts';

/** Every dependency of the gateway, passed in by name (see registry.ts for the real ones). */
export type AppDeps = {
  config: Config;
  log: Logger;
  clock: Clock;
  index: IndexRepo;
  /** The public index's files under /index/, kept ready to send. */
  indexFiles: IndexFiles;
  privateIndex: IndexRepo;
  accounts: Accounts;
  mailer: Mailer;
  permissions: Permissions;
  packages: Packages;
  notifier: Notifier;
  /** The Git processes that serve clones and fetches, bounded. */
  git: GitProcesses;
  /** What the registry counts and measures (GET /metrics on its own listener). */
  metrics: Metrics;
  /** The public index's push mirrors and their state. */
  mirrors: PushMirrors;
};

/**
 * Whether the client went away before it was answered (it closed the connection, or a
 * timeout closed it): nobody reads an answer any more, and nothing failed on our side.
 */
function clientGone(ctx: Koa.Context): boolean {
  // A connection handed to the Git spawner is gone from here, not from its client: the answer's end says.
  const cutShort = answerCutShort(ctx);
  if (cutShort !== null) return cutShort;
  if (ctx.res.writableEnded) return false;
  const socket = ctx.res.socket ?? (ctx.req.socket as typeof ctx.req.socket | null);
  return ctx.res.destroyed || socket === null || socket.destroyed || !socket.writable;
}

/**
 * Renders catalog errors as `{"error", "message"}`; anything else is a logged 500 that shows
 * nothing, unless the client went away meanwhile: reading its body then fails, which is no
 * fault of ours (the request log says `request_aborted`).
 */
export function errorHandler(log: Logger, metrics: Metrics): Koa.Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) throw fail('not_found');
    } catch (err) {
      const apiError = err instanceof ApiError ? err : null;
      if (apiError?.limit) metrics.refused(apiError.limit);
      if (!apiError && clientGone(ctx)) return;
      const full = !apiError && isDiskFull(err);
      if (full) log.warn('disk_full', { method: ctx.method, path: ctx.path, message: err instanceof Error ? err.message : String(err) });
      else if (!apiError) log.error('request_failed', { method: ctx.method, path: ctx.path, ...describeError(err) });
      const shown = apiError ?? (full ? fail('insufficient_storage', undefined, { 'Retry-After': '60' }) : fail('internal'));
      // For the request's metrics: which error it was answered.
      ctx.state.errorCode = shown.code;
      ctx.status = shown.status;
      ctx.set(shown.headers);
      ctx.body = shown.body;
    }
  };
}

/**
 * One JSON line per request: method, path, status, duration. Never a header or a query. A
 * request whose client went away before its answer is `request_aborted`, with no status.
 * The same moment counts the request in the metrics.
 */
export function requestLog(log: Logger, metrics: Metrics, timings: boolean): Koa.Middleware {
  return async (ctx, next) => {
    const started = performance.now();
    // Where a request's time goes, by stage, for the routes that mark theirs: only when asked for.
    ctx.state.timer = timings ? new StageTimer(started) : null;
    try {
      await next();
    } finally {
      const gone = clientGone(ctx);
      if (gone) logAborted(log, ctx.method, ctx.path, started);
      else logRequest(log, ctx.method, ctx.path, ctx.status, started);
      metrics.request(ctx.method, ctx.path, gone ? null : ctx.status, started, (ctx.state.errorCode as ErrorCode | undefined) ?? null);
    }
  };
}

export function createApp(deps: AppDeps): Koa {
  const app = new Koa({ proxy: false });
  app.silent = true;
  app.use(requestLog(deps.log, deps.metrics, deps.config.logTimings));
  app.use(lingeringClose());
  app.use(errorHandler(deps.log, deps.metrics));
  app.use(staticIndex(deps));
  app.use(identifyClient(deps.config));
  app.use(gitHttp({ git: deps.git, resolve: registryRepositories(deps) }));
  app.use(authenticate(deps));

  const health = new Router();
  health.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  for (const router of [health, sessionRoutes(deps), loginLinkRoutes(deps), sessionsRoutes(deps), tokenRoutes(deps), identityRoutes(deps), packageRoutes(deps), privateRoutes(deps)]) {
    app.use(router.routes());
    app.use(router.allowedMethods({ throw: true, methodNotAllowed: () => fail('method_not_allowed'), notImplemented: () => fail('method_not_allowed') }));
  }
  return app;
}
