import type { Logger } from './log.ts';

/**
 * The one log line of a request, whoever answered it (the app, or the index's fast path):
 * method, path without the query, status, and the milliseconds since `started`
 * (a `performance.now()`). Never a header or a query.
 */
export function logRequest(log: Logger, method: string, path: string, status: number, started: number): void {
  log.info('request', { method, path, status, ms: Math.round((performance.now() - started) * 10) / 10 });
}
