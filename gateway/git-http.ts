import type Koa from 'koa';
import type { AppDeps } from './app.ts';
import { ApiError, fail, limited } from './errors.ts';
import { principalFromHeader } from './authenticate.ts';
import { clientOf } from './client-address.ts';
import { includes } from './permissions.ts';
import { GIT_PREFIXES, gitRoute, type GitRepository } from './git-route.ts';
import { answeredWith, checkBodySize, isHandedOff, takeGitConnection, tooLarge } from './git-connection.ts';
import { GitBusyError, GitStoppedError, type GitEnd, type GitProcesses, type GitProcessesOptions } from '../index-repo/git-processes.ts';
import { logAborted, logRequest } from './log-request.ts';
import type { Logger } from './log.ts';
import type { Metrics } from './metrics.ts';
import type { GitView, OwnAnswer, Service } from '../index-repo/upload-pack.ts';

/** What a URL resolves to once its reader is known to be allowed: where Git reads, and what it shows. */
export type GitTarget = GitView & { label: Record<string, string> };

/**
 * Which repository a Git URL's reader gets, or a catalog error (a missing package's 404, a
 * private one's 401): the registry's repositories (`registryRepositories`), or a replica's.
 */
export type ResolveRepository = (ctx: Koa.Context, repository: GitRepository) => GitTarget;

/** What serving Git needs: the bounded Git processes, and where each URL's repository is. */
export type GitHttpDeps = { git: GitProcesses; resolve: ResolveRepository };

const BASIC_CHALLENGE = { 'WWW-Authenticate': 'Basic realm="Gren registry"' };

/** An error of the catalog as the spawner sends it. */
const ownAnswer = (err: ApiError): OwnAnswer => ({ status: err.status, type: 'application/json; charset=utf-8', body: JSON.stringify(err.body) });

/** What the client gets when Git answers nothing at all (it failed before its headers): the catalog's 500. */
const FAILURE = ownAnswer(fail('internal'));
/** What a later request on the connection gets for a body past `GIT_BODY_LIMIT` (the first is refused before the handover). */
const TOO_LARGE = ownAnswer(tooLarge());

/**
 * Git's smart HTTP protocol, fetching only, served by Git itself (index-repo/upload-pack.ts):
 * `/index.git/...`, the public index whole, and `/git/[gren-<v>/]<author>/<name>.git/...`, one
 * package's tags (and, with `gren-<v>`, only the versions that compiler can use). Each request
 * is a short list of steps: read the URL, check the service and the body's size, resolve the
 * repository (and for a private package, who asks), hand the request to Git, which answers on
 * the client's connection from the spawner process.
 */
export function gitHttp(deps: GitHttpDeps): Koa.Middleware {
  return async (ctx, next) => {
    if (!GIT_PREFIXES.some((prefix) => ctx.path.startsWith(prefix))) return next();
    const route = gitRoute(ctx.path);
    if (!route) throw notFound();
    const service = serviceOf(ctx, route.file);
    checkBodySize(ctx);
    const target = deps.resolve(ctx, route.repository);
    await serve(deps.git, ctx, target, service, ctx.path.slice(0, ctx.path.length - route.file.length));
  };
}

export const notFound = () => fail('not_found', 'Repository not found.');

/** The smart-HTTP fetch requests; a push is refused, and so is every file the dumb protocol would read. */
function serviceOf(ctx: Koa.Context, file: string): Service {
  const query = ctx.query['service'];
  if (file === 'git-receive-pack' || (file === 'info/refs' && query === 'git-receive-pack')) {
    throw fail('forbidden', 'The registry\'s Git repositories are read-only: publish with "gren-registry publish".');
  }
  if (file === 'info/refs' && query === 'git-upload-pack') {
    if (ctx.method !== 'GET') throw fail('method_not_allowed', 'The ref advertisement is read with GET.');
    return 'advertise';
  }
  if (file === 'git-upload-pack') {
    if (ctx.method !== 'POST') throw fail('method_not_allowed', 'git-upload-pack takes a POST.');
    return 'upload-pack';
  }
  throw fail('not_found', "Only Git's smart HTTP protocol is served here: clone with Git 1.6.6 or later.");
}

/**
 * The registry's repositories: where a repository's content is, and what its reader may see. A
 * package that does not exist is `404`; a private one asks for credentials (`401` with a Basic
 * challenge, which makes Git prompt) and answers a reader without `download` in its author
 * exactly as a missing one.
 */
export function registryRepositories(deps: AppDeps): ResolveRepository {
  return (ctx, repository) => resolve(deps, ctx, repository);
}

function resolve(deps: AppDeps, ctx: Koa.Context, repository: GitRepository): GitTarget {
  if (repository.kind === 'index') return { gitDir: deps.index.gitDir, namespace: null, hideRefs: [], protocolV2: true, label: { repo: 'index' } };
  const found = deps.packages.find(`${repository.author}/${repository.name}`);
  if (!found) throw notFound();
  if (found.private) allowPrivate(deps, ctx, found.name);
  const hidden = repository.gren === null ? [] : deps.packages.incompatible(found.name, repository.gren);
  return packageTarget(found.private ? deps.privateIndex.gitDir : deps.index.gitDir, found.name, hidden, found.private);
}

/**
 * One package's repository: its namespace of `gitDir` (by its registered name), its tags only,
 * without the `hidden` versions (those the compiler of a `gren-<v>` URL cannot use).
 */
export function packageTarget(gitDir: string, name: string, hidden: string[], isPrivate: boolean): GitTarget {
  return {
    gitDir,
    namespace: name,
    hideRefs: ['refs/bundles', ...hidden.map((version) => `refs/tags/${version}`)],
    // Protocol v2 hands out any object of the repository by id, and private.git holds every
    // identity's private packages: private repositories speak v0, which checks reachability.
    protocolV2: !isPrivate,
    label: { repo: 'package', package: name },
  };
}

function allowPrivate(deps: AppDeps, ctx: Koa.Context, fullName: string): void {
  const header = ctx.get('authorization');
  if (header === '') throw fail('unauthorized', 'This repository needs credentials: a token as the password.', BASIC_CHALLENGE);
  let principal;
  try {
    principal = principalFromHeader(deps, header, clientOf(ctx));
  } catch (err) {
    if (err instanceof ApiError) throw fail(err.code, err.message, BASIC_CHALLENGE);
    throw err;
  }
  const author = fullName.slice(0, fullName.indexOf('/'));
  if (!includes(deps.permissions.roleIn(principal, author), 'download')) throw notFound();
}

/**
 * Hands the request to Git once a process is granted: its connection goes to the spawner, which
 * answers on it (and a Git client's next requests for the same repository, with the same
 * credentials: `prefix` is the repository's URL path); resolves when that answer has ended, with
 * its status (or the client's leaving) for the request log. Refusals before that (a full queue, a
 * wait past the time limit, a body too large) are answered here as catalog errors.
 */
async function serve(git: GitProcesses, ctx: Koa.Context, target: GitTarget, service: Service, prefix: string): Promise<void> {
  const hangUp = new AbortController();
  ctx.res.once('close', () => {
    if (!ctx.res.writableFinished && !isHandedOff(ctx)) hangUp.abort();
  });
  let end: GitEnd;
  try {
    const { label, ...view } = target;
    end = await git.serve({
      session: {
        view,
        prefix,
        authorization: ctx.get('authorization') || null,
        // Git's own clients ask again on the connection (a clone two or three times); others get it closed after the answer.
        keepAlive: ctx.get('user-agent').startsWith('git/'),
        failure: FAILURE,
        tooLarge: TOO_LARGE,
      },
      signal: hangUp.signal,
      label: { ...label, service },
      connect: (signal) => takeGitConnection(ctx, signal),
    });
  } catch (err) {
    if (err instanceof GitBusyError) throw limited('unavailable', 'git_queue', 'Too many Git requests at once; try again in a moment.', { 'Retry-After': String(err.retryAfterSeconds) });
    if (err instanceof GitStoppedError && err.reason === 'timeout') throw fail('unavailable', 'Git took too long; try again in a moment.', { 'Retry-After': '5' });
    if (err instanceof GitStoppedError) return hungUp(ctx);
    throw err;
  }
  answeredWith(ctx, end);
}

/** The client left before an answer: nothing to send; the log says 499, as nginx's does. */
function hungUp(ctx: Koa.Context): void {
  ctx.respond = false;
  ctx.status = 499;
}

/**
 * The request log line and the metrics of a request that followed another on its connection,
 * answered in the spawner: as the app gives them to the requests it answers (its path without the
 * query; `request_aborted` when it was cut short).
 */
export function logFollowUps(log: Logger, metrics: Metrics): NonNullable<GitProcessesOptions['followUp']> {
  return (request) => {
    const started = performance.now() - request.ms;
    const status = request.stopped === null ? (request.end.status ?? 500) : null;
    if (status === null) logAborted(log, request.method, request.path, started);
    else logRequest(log, request.method, request.path, status, started);
    metrics.request(request.method, request.path, status, started, null);
  };
}
