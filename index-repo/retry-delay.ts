/**
 * The delay before the retry that follows `failures` failures in a row (1: the first retry):
 * `initialMs`, doubled at each further failure up to `maxMs`, with ±20% jitter so that retries
 * of many deliveries or mirrors waiting on the same host do not all arrive together.
 */
export function retryDelay(failures: number, initialMs: number, maxMs: number): number {
  return Math.round(Math.min(maxMs, initialMs * 2 ** Math.min(Math.max(failures, 1) - 1, 30)) * (0.8 + Math.random() * 0.4));
}
