import type { Clock } from './clock.ts';

/** A token bucket: `burst` actions at once, then one more every `everyMs` (crates.io's shape). */
export type RateLimit = { burst: number; everyMs: number };

export type RateLimiter = {
  /** Takes one action for `key`: 0 when allowed, else the whole seconds to wait (for Retry-After). */
  take(key: string): number;
  /** Returns an action taken for `key` that did not happen after all (a mail that could not be sent). */
  giveBack(key: string): void;
};

type Bucket = { tokens: number; at: number };

/** Buckets kept before full ones are swept: bounds memory whatever the number of keys seen. */
const sweepAbove = 10_000;

/**
 * Keyed token buckets in memory. A restart forgets them, which only ever lets a caller
 * through early; the limits protect mailboxes and codes, not durable quotas.
 */
export function createRateLimiter(deps: { limit: RateLimit; clock: Clock }): RateLimiter {
  const { limit, clock } = deps;
  const buckets = new Map<string, Bucket>();
  const refill = (bucket: Bucket, now: number): Bucket => ({
    tokens: Math.min(limit.burst, bucket.tokens + Math.max(0, now - bucket.at) / limit.everyMs),
    at: now,
  });
  const sweep = (now: number) => {
    for (const [key, bucket] of buckets) if (refill(bucket, now).tokens >= limit.burst) buckets.delete(key);
  };
  return {
    take(key) {
      const now = clock.now().getTime();
      if (buckets.size > sweepAbove) sweep(now);
      const bucket = refill(buckets.get(key) ?? { tokens: limit.burst, at: now }, now);
      if (bucket.tokens >= 1) {
        buckets.set(key, { tokens: bucket.tokens - 1, at: now });
        return 0;
      }
      buckets.set(key, bucket);
      return Math.max(1, Math.ceil(((1 - bucket.tokens) * limit.everyMs) / 1000));
    },
    giveBack(key) {
      const now = clock.now().getTime();
      const bucket = buckets.get(key);
      if (bucket) buckets.set(key, { tokens: Math.min(limit.burst, refill(bucket, now).tokens + 1), at: now });
    },
  };
}
