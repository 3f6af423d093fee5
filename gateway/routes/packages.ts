// PLACEHOLDER: replaced by the issue that owns these routes.
import Router from '@koa/router';
import type { AppDeps } from '../app.ts';

export function packageRoutes(_deps: AppDeps): Router {
  return new Router();
}
