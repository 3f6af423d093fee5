// PLACEHOLDER: being written (issue 2).
import type Koa from 'koa';
import type { AppDeps } from './app.ts';

export function staticIndex(_deps: AppDeps): Koa.Middleware {
  return async (_ctx, next) => next();
}
