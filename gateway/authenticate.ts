import type Koa from 'koa';
import type { AppDeps } from './app.ts';
import type { Principal } from './permissions.ts';
import { fail } from './errors.ts';
import { clientOf, type Client } from './client-address.ts';

/**
 * Sets `ctx.state.principal` from `Authorization: Bearer <token>`: a session token or an
 * automation token. Null when the header is absent; a header that is malformed, or names
 * an unknown, revoked or expired token, is `401 unauthorized`, since the client meant to
 * be someone.
 */
export function authenticate(deps: Pick<AppDeps, 'accounts'>): Koa.Middleware {
  return async (ctx, next) => {
    const header = ctx.get('authorization');
    ctx.state.principal = header === '' ? null : principalFromHeader(deps, header, clientOf(ctx));
    await next();
  };
}

function principalFromHeader(deps: Pick<AppDeps, 'accounts'>, header: string, client: Client): Principal {
  const match = /^Bearer +(\S+) *$/i.exec(header);
  if (!match?.[1]) throw fail('unauthorized', 'The Authorization header must read "Bearer <token>".');
  return principalFromToken(deps, match[1], client);
}

/** The principal of a bearer token used by `client`, or `401 unauthorized` (also used for the legacy `session` body field). */
export function principalFromToken(deps: Pick<AppDeps, 'accounts'>, token: string, client: Client): Principal {
  const principal = deps.accounts.authenticate(token, client);
  if (!principal) throw fail('unauthorized', 'The token is unknown, revoked or expired; log in again.');
  return principal;
}

export function principalOf(ctx: Koa.Context): Principal | null {
  return (ctx.state.principal as Principal | null | undefined) ?? null;
}

/** The caller, or `401 unauthorized` when the request carries no token. */
export function requirePrincipal(ctx: Koa.Context): Principal {
  const principal = principalOf(ctx);
  if (!principal) throw fail('unauthorized', 'Log in first: send "Authorization: Bearer <token>".');
  return principal;
}

/** The caller's session, or an error: `401` without a token, `403` for an automation token. */
export function requireSession(ctx: Koa.Context, what: string): Extract<Principal, { via: 'session' }> {
  const principal = requirePrincipal(ctx);
  if (principal.via !== 'session') throw fail('forbidden', `Automation tokens cannot ${what}; use a session (log in).`);
  return principal;
}
