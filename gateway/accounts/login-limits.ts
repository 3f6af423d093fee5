import type { Clock } from '../clock.ts';
import { limited, type Limit } from '../errors.ts';
import { createRateLimiter, type RateLimit } from '../rate-limit.ts';
import { clientKey } from '../client-address.ts';
import { mailboxOf } from './email.ts';

export type LoginLimitOptions = {
  loginMailPerAddress: RateLimit;
  loginMailPerClient: RateLimit;
  fetchPerClient: RateLimit;
};

export type LoginLimits = {
  /**
   * Counts one login mail to `email` (by its mailbox) asked by `client` (an address, by its
   * /64 for IPv6), or throws `429 rate_limited` with Retry-After. Answers a function that
   * gives the mail back when it could not be sent.
   */
  loginMail(email: string, client: string): () => void;
  /** Counts one `POST /session/fetch` from `client` (by its /64 for IPv6), or throws `429 rate_limited`. */
  fetch(client: string): void;
};

const tooMany = (limit: Limit, seconds: number, what: string) =>
  limited('rate_limited', limit, `Too many ${what}; try again in ${seconds} second${seconds === 1 ? '' : 's'}.`, { 'Retry-After': String(seconds) });

export function createLoginLimits(deps: { clock: Clock; options: LoginLimitOptions }): LoginLimits {
  const { clock, options } = deps;
  const perAddress = createRateLimiter({ limit: options.loginMailPerAddress, clock });
  const perClient = createRateLimiter({ limit: options.loginMailPerClient, clock });
  const fetches = createRateLimiter({ limit: options.fetchPerClient, clock });
  return {
    loginMail(email, address) {
      const client = clientKey(address);
      const mailbox = mailboxOf(email);
      const clientWait = perClient.take(client);
      if (clientWait > 0) throw tooMany('login_mail_client', clientWait, 'login requests from this address');
      const addressWait = perAddress.take(mailbox);
      if (addressWait > 0) {
        perClient.giveBack(client);
        throw tooMany('login_mail_address', addressWait, 'login mails to this email address');
      }
      return () => {
        perClient.giveBack(client);
        perAddress.giveBack(mailbox);
      };
    },
    fetch(address) {
      const wait = fetches.take(clientKey(address));
      if (wait > 0) throw tooMany('login_fetch_client', wait, 'login attempts from this address');
    },
  };
}
