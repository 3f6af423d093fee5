import Koa from 'koa';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { fail } from '../errors.ts';
import { errorHandler, requestLog } from '../app.ts';
import { lingeringClose } from '../lingering-close.ts';
import { staticIndex, type IndexFiles } from '../static-index.ts';
import { gitHttp, notFound, packageTarget, type ResolveRepository } from '../git-http.ts';
import { GIT_PREFIXES } from '../git-route.ts';
import { packageKey } from '../packages/package-name.ts';
import { incompatibleVersions } from '../packages/queries.ts';
import type { GitProcesses } from '../../index-repo/git-processes.ts';
import { INCOMING } from '../../index-repo/replica-repo.ts';
import type { Follower } from './follower.ts';
import { replicaWebhook } from './webhook.ts';

export type ReplicaAppDeps = {
  log: Logger;
  metrics: Metrics;
  follower: Follower;
  indexFiles: IndexFiles;
  git: GitProcesses;
  /** The replica's bare repository, which Git serves. */
  gitDir: string;
  primaryUrl: string;
  webhookSecret: string | null;
};

/**
 * A read replica's HTTP app: `/index/` from its last checked state (the same rules and headers as
 * the primary's, with the same code), `/index.git/` and the package repositories from its copy
 * (public packages only: it holds nothing else), `GET /healthz` with how current it is, and the
 * primary's webhook. Every other request is the primary's: a read is redirected there (`307`),
 * anything else (a login, a publish...) is refused with `405 read_only_replica` naming it.
 */
export function createReplicaApp(deps: ReplicaAppDeps): Koa {
  const app = new Koa({ proxy: false });
  app.silent = true;
  app.use(requestLog(deps.log, deps.metrics, false));
  app.use(lingeringClose());
  app.use(errorHandler(deps.log, deps.metrics));
  app.use(health(deps.follower));
  app.use(untilFirstState(deps.follower));
  app.use(staticIndex(deps));
  app.use(replicaWebhook({ secret: deps.webhookSecret, log: deps.log, sync: () => void deps.follower.sync('webhook') }));
  app.use(gitHttp({ git: deps.git, resolve: replicaRepositories(deps) }));
  app.use(toPrimary(deps.primaryUrl));
  return app;
}

/** `GET /healthz`: `200` with the commit served and when the source was last fetched; `503` until there is a state to serve. */
function health(follower: Follower): Koa.Middleware {
  return async (ctx, next) => {
    if (ctx.path !== '/healthz') return next();
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') throw fail('method_not_allowed');
    const status = follower.status();
    ctx.status = status.commit === null ? 503 : 200;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: status.commit === null ? 'starting' : 'ok', ...status };
  };
}

/** Before its first state (a new replica whose first fetch has not ended), the index and Git are `503` with `Retry-After`. */
function untilFirstState(follower: Follower): Koa.Middleware {
  return async (ctx, next) => {
    const served = ctx.path.startsWith('/index/') || GIT_PREFIXES.some((prefix) => ctx.path.startsWith(prefix));
    if (served && follower.current() === null) throw fail('unavailable', 'This replica has not fetched the index yet; try again in a moment.', { 'Retry-After': '5' });
    await next();
  };
}

/** The replica's repositories: the index whole (without what a fetch brought and is not served yet), and public packages. */
function replicaRepositories(deps: Pick<ReplicaAppDeps, 'gitDir' | 'follower'>): ResolveRepository {
  return (_ctx, repository) => {
    if (repository.kind === 'index') return { gitDir: deps.gitDir, namespace: null, hideRefs: [INCOMING.replace(/\/$/, '')], protocolV2: true, label: { repo: 'index' } };
    const found = deps.follower.packages().get(packageKey(`${repository.author}/${repository.name}`));
    if (!found) throw notFound();
    const hidden = repository.gren === null ? [] : incompatibleVersions(found.index, repository.gren);
    return packageTarget(deps.gitDir, found.name, hidden, false);
  };
}

/**
 * What only the primary answers: a `GET` or `HEAD` is redirected to the same path and query there
 * (`307`); any other method is `405 read_only_replica`, with `Allow: GET, HEAD` and the primary's
 * address in the message and in `X-Registry-Primary`. A write is not redirected: a client would
 * send its upload twice, and its credentials to another origin (or, as `fetch` does, drop them).
 */
function toPrimary(primaryUrl: string): Koa.Middleware {
  return async (ctx) => {
    if (ctx.method === 'GET' || ctx.method === 'HEAD') {
      ctx.status = 307;
      ctx.set('Location', `${primaryUrl}${ctx.url}`);
      ctx.set('Cache-Control', 'no-store');
      return;
    }
    throw fail('read_only_replica', `This server is a read-only replica: log in and make changes at the primary registry, ${primaryUrl}.`, {
      Allow: 'GET, HEAD',
      'X-Registry-Primary': primaryUrl,
    });
  };
}
