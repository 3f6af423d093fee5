import Router from '@koa/router';
import type Koa from 'koa';
import type { AppDeps } from '../app.ts';
import { principalOf } from '../authenticate.ts';
import { fail } from '../errors.ts';
import { notModified } from '../conditional.ts';
import { isAuthor, isName } from '../packages/package-name.ts';
import { isVersion } from '../packages/range.ts';
import { packagePaths } from '../packages/version-index.ts';

/**
 * A private package's files, as the static index would serve them, read from the private
 * repository's `main`: `/private/packages/<author>/<name>/index.json`, `.../<version>/gren.json`
 * and `.../<version>/bundle.pkg.gz`. Only for callers with at least `download` in the author;
 * for everyone else, as for a package that does not exist, `404 not_found`.
 */
export function privateRoutes(deps: AppDeps): Router {
  const router = new Router({ prefix: '/private/packages/:author/:name' });
  router.get('/index.json', (ctx) => serve(deps, ctx, (paths) => paths.index));
  router.get('/:version/gren.json', (ctx) => serve(deps, ctx, (paths, version) => paths.outline(version)));
  router.get('/:version/bundle.pkg.gz', (ctx) => serve(deps, ctx, (paths, version) => paths.bundle(version)));
  return router;
}

type Paths = ReturnType<typeof packagePaths>;

async function serve(deps: AppDeps, ctx: Koa.Context, pick: (paths: Paths, version: string) => string) {
  const { author = '', name = '', version = '0.0.0' } = ctx.params as Record<string, string | undefined>;
  // The role is read before anything about the package, and nothing more for a non-member: a
  // refusal takes the same work whether or not the package exists.
  const allowed = isAuthor(author) && isName(name) && isVersion(version) && deps.permissions.roleIn(principalOf(ctx), author) !== null;
  const file = allowed ? pick(packagePaths(`${author}/${name}`), version) : null;
  const snapshot = deps.privateIndex.snapshot();
  const entry = file === null ? null : await snapshot.servedEntry(file);
  if (file === null || entry?.type !== 'blob') throw fail('not_found', 'There is no such file.');
  const isBundle = file.endsWith('.pkg.gz');
  ctx.set('ETag', `"${entry.oid}"`);
  ctx.set('Cache-Control', isBundle ? 'private, max-age=31536000, immutable' : 'private, no-cache');
  ctx.set('Vary', 'Authorization');
  ctx.type = isBundle ? 'application/gzip' : 'application/json; charset=utf-8';
  if (notModified(ctx.get('If-None-Match'), ctx.response.get('ETag'))) {
    ctx.status = 304;
    return;
  }
  ctx.body = await snapshot.readBlob(entry.oid);
}
