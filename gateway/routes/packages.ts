import Router from '@koa/router';
import type Koa from 'koa';
import type { AppDeps } from '../app.ts';
import { principalOf, requirePrincipal } from '../authenticate.ts';
import { readJson } from '../body.ts';
import { fail } from '../errors.ts';
import { defaultBundleLimits, readBundle } from '../packages/bundle.ts';
import { createUploadBudget, type UploadBudget } from '../packages/upload-budget.ts';
import { validateOutline } from '../packages/outline.ts';
import { createPublishLimits, type PublishLimits } from '../packages/publish-limits.ts';
import { notModified } from '../conditional.ts';
import { isAuthor, isName } from '../packages/package-name.ts';
import { isVersion } from '../packages/range.ts';
import type { StageTimer } from '../../index-repo/stage-timer.ts';

/** Publish, revoke, the compiler-aware queries and the listing (docs/protocol.md, Packages). */
export function packageRoutes(deps: AppDeps): Router {
  const router = new Router();
  const guards: PublishGuards = {
    limits: createPublishLimits({ clock: deps.clock, limit: deps.config.publishLimit }),
    uploads: createUploadBudget(deps.config.uploads),
  };
  router.get('/packages', (ctx) => listPackages(deps, ctx));
  router.put('/packages/:author/:name/:version', (ctx) => publish(deps, ctx, guards));
  router.delete('/packages/:author/:name/:version', (ctx) => revoke(deps, ctx));
  router.get('/packages/:author/:name/latest', (ctx) => latest(deps, ctx));
  router.get('/packages/:author/:name/previous/:version', (ctx) => previous(deps, ctx));
  return router;
}

type Target = { author: string; name: string; fullName: string };

/** The package named by the URL; a name that cannot exist is `400 invalid_name`. */
function readPackage(ctx: Koa.Context): Target {
  const { author = '', name = '' } = ctx.params as Record<string, string | undefined>;
  if (!isAuthor(author)) throw fail('invalid_name', `"${author}" is not a publishing identity name (letters, digits and single dashes, at most 39).`);
  if (!isName(name)) throw fail('invalid_name', `"${name}" is not a package name (lowercase letters, digits and single dashes, starting with a letter).`);
  return { author, name, fullName: `${author}/${name}` };
}

function readVersion(text: unknown, what: string): string {
  if (typeof text !== 'string' || !isVersion(text)) throw fail('invalid_request', `${what} must be a version such as 1.0.0, not ${JSON.stringify(text ?? null)}.`);
  return text;
}

const bundleTypes = ['', 'application/gzip', 'application/x-gzip', 'application/octet-stream'];

/** What stands between publishers and the registry's capacity: the publish limit and the upload memory budget. */
type PublishGuards = { limits: PublishLimits; uploads: UploadBudget };

/**
 * Everything that can refuse a publish without its bundle comes first, so that a refusal is
 * answered before the upload is read; the limit counts only versions that get published.
 */
async function publish(deps: AppDeps, ctx: Koa.Context, guards: PublishGuards) {
  const timer = ctx.state.timer as StageTimer | null;
  const target = readPackage(ctx);
  const version = readVersion(ctx.params.version, 'The version in the URL');
  const principal = requirePrincipal(ctx);
  deps.permissions.publish(principal, target.author);
  requireIdentitySpelling(deps, target);
  if (!bundleTypes.includes(ctx.request.type)) {
    throw fail('unsupported_media_type', `Send the bundle with Content-Type: application/gzip, not ${ctx.request.type}.`);
  }
  const giveBack = guards.limits.take(principal.userId, target.author);
  const upload = guards.uploads.open(principal.userId);
  timer?.mark('authenticated');
  try {
    const bundle = await readBundle(ctx.req, ctx.request.length ?? null, defaultBundleLimits, upload, timer);
    const outline = validateOutline(bundle.outline, { name: target.fullName, version }, bundle.sources);
    timer?.mark('validated');
    const mayReadPrivate = (author: string) => deps.permissions.roleIn(principal, author) !== null;
    ctx.status = 201;
    ctx.body = await deps.packages.publish({ outline, bundle, mayReadPrivate, timer });
  } catch (err) {
    giveBack();
    throw err;
  } finally {
    // The bundle is held until its commit is answered; then its share of the budget is free.
    upload.release();
  }
  if (timer) deps.log.info('publish_timings', { package: target.fullName, version, ...timer.rounded() });
}

/** A package's author is spelled as its publishing identity is, so that one identity never owns two spellings. */
function requireIdentitySpelling(deps: AppDeps, target: Target): void {
  const identity = deps.accounts.identities.find(target.author);
  if (identity && identity.name !== target.author) {
    throw fail('invalid_name', `The publishing identity is spelled ${identity.name}: publish as ${identity.name}/${target.name}.`);
  }
}

async function revoke(deps: AppDeps, ctx: Koa.Context) {
  const target = readPackage(ctx);
  const version = readVersion(ctx.params.version, 'The version in the URL');
  deps.permissions.publish(principalOf(ctx), target.author);
  const { reason = null } = await readJson(ctx);
  if (reason !== null && (typeof reason !== 'string' || reason.length > 1000)) {
    throw fail('invalid_request', '"reason" must be a text of at most 1000 characters, or null.');
  }
  ctx.body = await deps.packages.revoke({ name: target.fullName, version, reason });
}

/**
 * The package as registered, for callers who may see it; everyone else gets `404 not_found`.
 * The caller's role is read whether or not the package exists or is private, so that a
 * refusal takes the same work (and time) for a private package as for a missing one.
 */
function visiblePackage(deps: AppDeps, ctx: Koa.Context): string {
  const { author = '', name = '' } = ctx.params as Record<string, string | undefined>;
  const wellFormed = isAuthor(author) && isName(name);
  const role = wellFormed ? deps.permissions.roleIn(principalOf(ctx), author) : null;
  const found = wellFormed ? deps.packages.find(`${author}/${name}`) : null;
  const visible = found !== null && found.name === `${author}/${name}` && (!found.private || role !== null);
  if (!visible) throw fail('not_found', `There is no package ${author}/${name}.`);
  return found.name;
}

function latest(deps: AppDeps, ctx: Koa.Context) {
  const fullName = visiblePackage(deps, ctx);
  const gren = ctx.query.gren === undefined ? null : readVersion(ctx.query.gren, 'The "gren" parameter');
  ctx.set('Cache-Control', 'no-cache');
  ctx.body = { version: deps.packages.latest(fullName, gren) };
}

function previous(deps: AppDeps, ctx: Koa.Context) {
  const fullName = visiblePackage(deps, ctx);
  const version = readVersion(ctx.params.version, 'The version in the URL');
  ctx.set('Cache-Control', 'no-cache');
  ctx.body = { version: deps.packages.previous(fullName, version) };
}

function listPackages(deps: AppDeps, ctx: Koa.Context) {
  const { body, etag } = deps.packages.listing();
  ctx.set('Cache-Control', 'no-cache');
  ctx.type = 'application/json; charset=utf-8';
  ctx.etag = etag;
  if (notModified(ctx.get('If-None-Match'), ctx.response.get('ETag'))) {
    ctx.status = 304;
    return;
  }
  ctx.body = body;
}
