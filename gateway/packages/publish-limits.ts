import type { Clock } from '../clock.ts';
import { limited, type Limit } from '../errors.ts';
import { createRateLimiter, type RateLimit } from '../rate-limit.ts';
import { identityKey } from '../accounts/identity-name.ts';

export type PublishLimits = {
  /**
   * Counts one publish by `userId` in `identity`, or throws `429 rate_limited` with
   * Retry-After when either has published its burst. Answers a function that gives the
   * publish back when it did not happen (refused, or failed), so that only versions
   * published count, as on crates.io.
   */
  take(userId: number, identity: string): () => void;
};

const tooMany = (limit: Limit, seconds: number, who: string) =>
  limited('rate_limited', limit, `${who} published too many versions in a short time; try again in ${seconds} second${seconds === 1 ? '' : 's'}.`, {
    'Retry-After': String(seconds),
  });

/**
 * Publish limits per user (whether through a session or a token) and per publishing
 * identity (whoever publishes in it). `limit` null: no limit.
 */
export function createPublishLimits(deps: { clock: Clock; limit: RateLimit | null }): PublishLimits {
  const { clock, limit } = deps;
  if (limit === null) return { take: () => () => {} };
  const perUser = createRateLimiter({ limit, clock });
  const perIdentity = createRateLimiter({ limit, clock });
  return {
    take(userId, identity) {
      const user = String(userId);
      const key = identityKey(identity);
      const userWait = perUser.take(user);
      if (userWait > 0) throw tooMany('publish_user', userWait, 'You have');
      const identityWait = perIdentity.take(key);
      if (identityWait > 0) {
        perUser.giveBack(user);
        throw tooMany('publish_identity', identityWait, `The publishing identity ${identity} has`);
      }
      return () => {
        perUser.giveBack(user);
        perIdentity.giveBack(key);
      };
    },
  };
}
