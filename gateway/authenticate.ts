import type Koa from 'koa';
import type { AppDeps } from './app.ts';
import type { Principal } from './permissions.ts';
import { fail } from './errors.ts';
import { clientOf, type Client } from './client-address.ts';

/**
 * Sets `ctx.state.principal` from the `Authorization` header: a session token or an
 * automation token, as `Bearer <token>` or as HTTP Basic with the token as the password (as
 * Git hosts take it; any user name). Null when the header is absent; a header that is
 * malformed, or names an unknown, revoked or expired token, is `401 unauthorized`, since the
 * client meant to be someone.
 */
export function authenticate(deps: Pick<AppDeps, 'accounts'>): Koa.Middleware {
  return async (ctx, next) => {
    const header = ctx.get('authorization');
    ctx.state.principal = header === '' ? null : principalFromHeader(deps, header, clientOf(ctx));
    await next();
  };
}

/** The principal an `Authorization` header names, or `401 unauthorized`. */
export function principalFromHeader(deps: Pick<AppDeps, 'accounts'>, header: string, client: Client): Principal {
  const token = tokenOf(header);
  if (token === null) throw fail('unauthorized', 'The Authorization header must read "Bearer <token>", or be HTTP Basic with the token as the password.');
  return principalFromToken(deps, token, client);
}

/**
 * The token of `Bearer <token>`, or of `Basic base64(user:token)`: the password, or the user
 * name when the password is empty (some tools put a token there). Null when malformed.
 */
function tokenOf(header: string): string | null {
  const bearer = /^Bearer +(\S+) *$/i.exec(header);
  if (bearer?.[1]) return bearer[1];
  const basic = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(header);
  if (!basic?.[1]) return null;
  const pair = Buffer.from(basic[1], 'base64').toString('utf8');
  const colon = pair.indexOf(':');
  if (colon === -1) return null;
  const token = pair.slice(colon + 1) || pair.slice(0, colon);
  return /^\S+$/.test(token) ? token : null;
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
