import type { Logger } from './log.ts';

/** Milliseconds since `started` (a `performance.now()`), to a tenth. */
const since = (started: number) => Math.round((performance.now() - started) * 10) / 10;

/**
 * The one log line of a request, whoever answered it (the app, or the index's fast path):
 * method, path without the query, status, and the milliseconds since `started`
 * (a `performance.now()`). Never a header or a query.
 */
export function logRequest(log: Logger, method: string, path: string, status: number, started: number): void {
  log.info('request', { method, path, status, ms: since(started) });
}

/** The one log line of a request whose client went away (or was timed out) before it was answered. */
export function logAborted(log: Logger, method: string, path: string, started: number): void {
  log.info('request_aborted', { method, path, ms: since(started) });
}
