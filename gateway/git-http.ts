import type Koa from 'koa';
import { finished } from 'node:stream/promises';
import type { AppDeps } from './app.ts';
import { ApiError, fail, limited } from './errors.ts';
import { principalFromHeader } from './authenticate.ts';
import { clientOf } from './client-address.ts';
import { includes } from './permissions.ts';
import { GIT_PREFIXES, gitRoute, type GitRepository } from './git-route.ts';
import { GitBusyError, GitStoppedError, type GitProcesses } from '../index-repo/git-processes.ts';
import { uploadPack, type UploadPackRequest, type UploadPackResponse } from '../index-repo/upload-pack.ts';

type Service = UploadPackRequest['service'];

/** What a URL resolves to once its reader is known to be allowed: where Git reads, and what it shows. */
export type GitTarget = { gitDir: string; namespace: string | null; hideRefs: string[]; protocolV2: boolean; label: Record<string, string> };

/**
 * Which repository a Git URL's reader gets, or a catalog error (a missing package's 404, a
 * private one's 401): the registry's repositories (`registryRepositories`), or a replica's.
 */
export type ResolveRepository = (ctx: Koa.Context, repository: GitRepository) => GitTarget;

/** What serving Git needs: the bounded Git processes, and where each URL's repository is. */
export type GitHttpDeps = { git: GitProcesses; resolve: ResolveRepository };

const BASIC_CHALLENGE = { 'WWW-Authenticate': 'Basic realm="Gren registry"' };

/**
 * Git's smart HTTP protocol, fetching only, served by Git itself (index-repo/upload-pack.ts):
 * `/index.git/...`, the public index whole, and `/git/[gren-<v>/]<author>/<name>.git/...`, one
 * package's tags (and, with `gren-<v>`, only the versions that compiler can use). Each request
 * is a short list of steps: read the URL, check the service, resolve the repository (and for a
 * private package, who asks), hand the request to Git.
 */
export function gitHttp(deps: GitHttpDeps): Koa.Middleware {
  return async (ctx, next) => {
    if (!GIT_PREFIXES.some((prefix) => ctx.path.startsWith(prefix))) return next();
    const route = gitRoute(ctx.path);
    if (!route) throw notFound();
    const service = serviceOf(ctx, route.file);
    const target = deps.resolve(ctx, route.repository);
    await serve(deps.git, ctx, target, service);
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

/** Hands the request to Git and streams its answer; ends when the answer is sent or given up. */
async function serve(git: GitProcesses, ctx: Koa.Context, target: GitTarget, service: Service): Promise<void> {
  const hangUp = new AbortController();
  ctx.res.once('close', () => {
    if (!ctx.res.writableFinished) hangUp.abort();
  });
  let response: UploadPackResponse;
  try {
    response = await uploadPack(git, {
      ...target,
      protocol: target.protocolV2 ? ctx.get('git-protocol') || null : null,
      service,
      contentType: ctx.get('content-type') || null,
      contentLength: ctx.get('content-length') || null,
      contentEncoding: ctx.get('content-encoding') || null,
      body: ctx.req,
      signal: hangUp.signal,
      label: { ...target.label, service },
    });
  } catch (err) {
    if (err instanceof GitBusyError) throw limited('unavailable', 'git_queue', 'Too many Git requests at once; try again in a moment.', { 'Retry-After': String(err.retryAfterSeconds) });
    if (err instanceof GitStoppedError && err.reason === 'timeout') throw fail('unavailable', 'Git took too long; try again in a moment.', { 'Retry-After': '5' });
    if (err instanceof GitStoppedError) return hungUp(ctx);
    throw err;
  }
  await stream(ctx, response);
}

/** The client left before an answer: nothing to send; the log says 499, as nginx's does. */
function hungUp(ctx: Koa.Context): void {
  ctx.respond = false;
  ctx.status = 499;
}

/**
 * Sends Git's status, headers and body. The answer ends when Git closes its output by itself
 * (after an error too: what it wrote, such as `ERR not our ref`, is for the client to read),
 * without waiting to hear of its exit; a process stopped midway (its time ran out) has its
 * connection destroyed, and then so is the client's, so that the client sees a broken
 * transfer rather than a short one. Resolves once the process has exited.
 */
async function stream(ctx: Koa.Context, response: UploadPackResponse): Promise<void> {
  ctx.respond = false;
  const res = ctx.res;
  res.writeHead(response.status, response.headers.flat());
  res.flushHeaders();
  response.body.pipe(res, { end: false });
  const whole = await finished(response.body).then(() => true, () => false);
  if (whole && !res.destroyed) res.end();
  else res.destroy();
  const end = await response.ended;
  if (end.stopped === 'aborted') ctx.status = 499;
}
