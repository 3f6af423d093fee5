// PLACEHOLDER: replaced by the accounts work (issue 3).
import type Koa from 'koa';
import type { AppDeps } from './app.ts';
import type { Principal } from './permissions.ts';

/** Sets `ctx.state.principal` from `Authorization: Bearer <token>` (null when absent). */
export function authenticate(_deps: AppDeps): Koa.Middleware {
  return async (ctx, next) => {
    ctx.state.principal = null;
    await next();
  };
}

export function principalOf(ctx: Koa.Context): Principal | null {
  return (ctx.state.principal as Principal | null | undefined) ?? null;
}
