// PLACEHOLDER for the implementation (issue 3); the types are the agreed interface.
import type { Accounts } from './accounts/accounts.ts';
import { fail } from './errors.ts';

export type Role = 'download' | 'publish' | 'admin';

/** Who is calling: a user through a session, or a user's automation token limited to one identity and role. */
export type Principal =
  | { via: 'session'; userId: number; email: string; sessionId: number }
  | { via: 'token'; userId: number; email: string; tokenId: string; identity: string; role: Role };

/**
 * The one place that answers "may this principal do this in this identity". Each method
 * returns when allowed and throws a catalog error when not: `401 unauthorized` without a
 * principal, `403 forbidden` when the role is too low, `404 not_found` when the identity
 * does not exist.
 */
export interface Permissions {
  /** The principal's effective role in the identity (a token's role capped by its creator's), or null. */
  roleIn(principal: Principal | null, identity: string): Role | null;
  download(principal: Principal | null, identity: string): void;
  publish(principal: Principal | null, identity: string): void;
  admin(principal: Principal | null, identity: string): void;
}

export function createPermissions(_deps: { accounts: Accounts }): Permissions {
  const deny = () => {
    throw fail('unauthorized');
  };
  return { roleIn: () => null, download: deny, publish: deny, admin: deny };
}
