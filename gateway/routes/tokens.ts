import Router from '@koa/router';
import type Koa from 'koa';
import type { AppDeps } from '../app.ts';
import { readJson } from '../body.ts';
import { fail } from '../errors.ts';
import { requireSession } from '../authenticate.ts';
import type { TokenInfo, TokenRole } from '../accounts/tokens.ts';

/** Automation tokens (docs/protocol.md): one identity, one role, optional expiry; managed with a session. */
export function tokenRoutes(deps: AppDeps): Router {
  const router = new Router();
  router.post('/tokens', (ctx) => createToken(deps, ctx));
  router.get('/tokens', (ctx) => listTokens(deps, ctx));
  router.delete('/tokens/:id', (ctx) => revokeToken(deps, ctx));
  return router;
}

const day = 24 * 60 * 60 * 1000;
/** Ten years: long enough for any automation, short enough that a forgotten token dies one day. */
const maxDays = 3650;

type TokenRequest = { name: string; identity: string; role: TokenRole; expiresInDays: number | null };

async function createToken(deps: AppDeps, ctx: Koa.Context) {
  const principal = requireSession(ctx, 'create tokens');
  const request = readTokenRequest(await readJson(ctx));
  deps.permissions[request.role](principal, request.identity);
  const identity = deps.accounts.identities.find(request.identity);
  if (!identity) throw fail('not_found', `There is no publishing identity named "${request.identity}".`);
  const expires = request.expiresInDays === null ? null : new Date(deps.clock.now().getTime() + request.expiresInDays * day);
  const { id, token } = deps.accounts.tokens.create({ userId: principal.userId, name: request.name, identity, role: request.role, expires });
  deps.log.info('token_created', { token: id, identity: identity.name, role: request.role });
  ctx.status = 201;
  ctx.body = { id, token };
}

function listTokens(deps: AppDeps, ctx: Koa.Context) {
  const principal = requireSession(ctx, 'list tokens');
  ctx.body = deps.accounts.tokens.list(principal.userId).map(describe);
}

function revokeToken(deps: AppDeps, ctx: Koa.Context) {
  const principal = requireSession(ctx, 'revoke tokens');
  const id = String(ctx.params.id);
  if (!deps.accounts.tokens.revoke(principal.userId, id)) throw fail('not_found', 'You have no live token with this id.');
  deps.log.info('token_revoked', { token: id });
  ctx.body = {};
}

function describe(token: TokenInfo) {
  return {
    id: token.id,
    name: token.name,
    identity: token.identity,
    role: token.role,
    created: token.created.toISOString(),
    expires: token.expires?.toISOString() ?? null,
    lastUsed: token.lastUsed?.toISOString() ?? null,
    lastAddress: token.lastAddress,
    lastUserAgent: token.lastUserAgent,
  };
}

function readTokenRequest(body: Record<string, unknown>): TokenRequest {
  const { name, identity, role, expiresInDays } = body;
  if (typeof name !== 'string' || name.trim() === '' || name.length > 100 || /[\x00-\x1f\x7f]/.test(name)) {
    throw fail('invalid_request', 'name must be a label of 1 to 100 printable characters, such as "ci".');
  }
  if (typeof identity !== 'string' || identity === '') {
    throw fail('invalid_request', 'identity must name the publishing identity the token acts in.');
  }
  if (role !== 'download' && role !== 'publish') {
    throw fail('invalid_request', 'role must be "download" or "publish" (tokens never carry admin).');
  }
  const noExpiry = expiresInDays === undefined || expiresInDays === null;
  if (!noExpiry && !(Number.isInteger(expiresInDays) && (expiresInDays as number) >= 1 && (expiresInDays as number) <= maxDays)) {
    throw fail('invalid_request', `expiresInDays must be a whole number of days from 1 to ${maxDays}, or absent for a token that does not expire.`);
  }
  return { name: name.trim(), identity, role, expiresInDays: noExpiry ? null : (expiresInDays as number) };
}
