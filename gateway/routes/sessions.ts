import Router from '@koa/router';
import type Koa from 'koa';
import type { AppDeps } from '../app.ts';
import { fail } from '../errors.ts';
import { requireSession } from '../authenticate.ts';
import type { SessionInfo } from '../accounts/sessions.ts';

/**
 * A user's sessions (logins): each with when and where it was last used, and when it ends
 * if left unused; any of them can be logged out from another. Managed with a session only.
 * Tokens are listed and revoked under /tokens.
 */
export function sessionsRoutes(deps: AppDeps): Router {
  const router = new Router();
  router.get('/sessions', (ctx) => listSessions(deps, ctx));
  router.delete('/sessions/:id', (ctx) => revokeSession(deps, ctx));
  return router;
}

function listSessions(deps: AppDeps, ctx: Koa.Context) {
  const principal = requireSession(ctx, 'list sessions');
  ctx.body = deps.accounts.sessions.list(principal.userId).map((session) => describe(session, principal.sessionId));
}

function revokeSession(deps: AppDeps, ctx: Koa.Context) {
  const principal = requireSession(ctx, 'log sessions out');
  const text = String(ctx.params.id);
  const id = /^[1-9]\d{0,15}$/.test(text) ? Number(text) : null;
  if (id === null || !deps.accounts.sessions.revokeOwn(principal.userId, id)) throw fail('not_found', 'You have no live session with this id.');
  deps.log.info('session_revoked', { session: id, by: principal.sessionId });
  ctx.body = {};
}

function describe(session: SessionInfo, current: number) {
  return {
    id: String(session.id),
    current: session.id === current,
    created: session.created.toISOString(),
    lastUsed: session.lastUsed.toISOString(),
    lastAddress: session.lastAddress,
    lastUserAgent: session.lastUserAgent,
    expires: session.expires.toISOString(),
  };
}
