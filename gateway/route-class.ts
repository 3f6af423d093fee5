import { GIT_PREFIXES } from './git-route.ts';

/**
 * What a request is for, in a small fixed set, so that the metrics count requests by it without
 * ever holding a raw path: files of the static index, Git's protocol, a publish, a revoke, the
 * login routes, the rest of the API, and anything else (paths nothing serves).
 */
export const ROUTE_CLASSES = ['index', 'git', 'publish', 'revoke', 'login', 'api', 'other'] as const;
export type RouteClass = (typeof ROUTE_CLASSES)[number];

/** The API's other prefixes (docs/protocol.md): each followed by the end of the path or a slash. */
const API_PREFIXES = ['/packages', '/sessions', '/tokens', '/publishing-identity', '/private/', '/healthz'];

/** True when `path` is `prefix`, or starts with it and a slash (a prefix ending in a slash needs only to start it). */
function under(path: string, prefix: string): boolean {
  if (!path.startsWith(prefix)) return false;
  return path.length === prefix.length || prefix.endsWith('/') || path.charCodeAt(prefix.length) === 47; // '/'
}

/**
 * The class of a request, from its method and its path (without the query): a few string
 * comparisons, nothing allocated. A PUT or DELETE below /packages/ is a publish or a revoke
 * attempt, whatever it is answered.
 */
export function routeClass(method: string, path: string): RouteClass {
  if (path.startsWith('/index/')) return 'index';
  for (let at = 0; at < GIT_PREFIXES.length; at++) if (path.startsWith(GIT_PREFIXES[at] as string)) return 'git';
  if (path.startsWith('/packages/')) {
    if (method === 'PUT') return 'publish';
    if (method === 'DELETE') return 'revoke';
  }
  if (under(path, '/session')) return 'login';
  for (let at = 0; at < API_PREFIXES.length; at++) if (under(path, API_PREFIXES[at] as string)) return 'api';
  return 'other';
}
