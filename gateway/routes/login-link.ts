import Router from '@koa/router';
import type Koa from 'koa';
import type { AppDeps } from '../app.ts';
import { clientOf } from '../client-address.ts';
import { askPage, answeredPage, loginPageHeaders, notFromPagePage, refusedPage } from '../accounts/login-page.ts';
import type { LoginRefusal } from '../accounts/login-requests.ts';

/**
 * The page behind the mailed login link (`/session/confirm?secret=…`). Opening it changes
 * nothing (mail scanners open every link): it shows who asked, from where and when, with a
 * button that confirms by POST and one that denies. A button's POST counts only when it
 * comes from that page: it must carry the page's token (see accounts/page-tokens.ts), and a
 * browser's `Origin` and `Sec-Fetch-Site` must name this registry.
 */
export function loginLinkRoutes(deps: AppDeps): Router {
  const router = new Router();
  router.get('/session/confirm', (ctx) => showLogin(deps, ctx));
  router.post('/session/confirm', (ctx) => answerLogin(deps, ctx, 'confirm'));
  router.post('/session/deny', (ctx) => answerLogin(deps, ctx, 'deny'));
  return router;
}

function sendPage(ctx: Koa.Context, status: number, html: string): void {
  ctx.set(loginPageHeaders);
  ctx.type = 'text/html; charset=utf-8';
  ctx.status = status;
  ctx.body = html;
}

const queryText = (ctx: Koa.Context, name: string): string => {
  const value = ctx.query[name];
  return typeof value === 'string' ? value : '';
};

function refuse(deps: AppDeps, ctx: Koa.Context, reason: LoginRefusal): void {
  deps.log.warn('login_link_refused', { reason });
  sendPage(ctx, 400, refusedPage(reason));
}

/** GET (and HEAD): what is being confirmed, and the two buttons. Nothing changes. */
function showLogin(deps: AppDeps, ctx: Koa.Context): void {
  // The secret is in the query, which the request log never records.
  const secret = queryText(ctx, 'secret');
  const login = deps.accounts.logins.pending(secret);
  if ('kind' in login) return refuse(deps, ctx, login.reason);
  const query = `secret=${encodeURIComponent(secret)}&page=${deps.accounts.pageTokens.issue(secret)}`;
  deps.log.info('login_link_opened', { login: login.id });
  // Relative addresses: right whatever path REGISTRY_URL puts the registry under.
  sendPage(ctx, 200, askPage({ login, viewer: clientOf(ctx).address, confirm: `confirm?${query}`, deny: `deny?${query}` }));
}

/** POST from the page's buttons: confirms or denies the login, then wakes its waiting fetches. */
function answerLogin(deps: AppDeps, ctx: Koa.Context, answer: 'confirm' | 'deny'): void {
  const secret = queryText(ctx, 'secret');
  if (!fromOwnOrigin(ctx, deps.config.registryUrl) || !deps.accounts.pageTokens.valid(secret, queryText(ctx, 'page'))) {
    deps.log.warn('login_answer_refused', { answer, origin: ctx.get('origin') || null, site: ctx.get('sec-fetch-site') || null });
    return sendPage(ctx, 403, notFromPagePage());
  }
  const logins = deps.accounts.logins;
  const outcome = answer === 'confirm' ? logins.confirmLink(secret) : logins.denyLink(secret);
  if (outcome.kind === 'refused') return refuse(deps, ctx, outcome.reason);
  if (outcome.kind === 'confirmed') deps.log.info('login_link_confirmed', { login: outcome.requestId });
  else deps.log.warn('login_denied', { login: outcome.requestId });
  deps.accounts.answered(outcome.requestId);
  sendPage(ctx, 200, answeredPage(outcome));
}

/**
 * Whether a browser says this POST comes from a page of this registry: `Sec-Fetch-Site`, when
 * sent, is `same-origin`, and `Origin`, when sent, is REGISTRY_URL's. A client that sends
 * neither (curl) is not a browser a cross-site page could drive; the page token still applies.
 */
function fromOwnOrigin(ctx: Koa.Context, registryUrl: string): boolean {
  const site = ctx.get('sec-fetch-site');
  if (site !== '' && site !== 'same-origin') return false;
  const origin = ctx.get('origin');
  return origin === '' || origin === new URL(registryUrl).origin;
}
