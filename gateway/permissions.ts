import type { Accounts } from './accounts/accounts.ts';
import { fail } from './errors.ts';
import { identityKey } from './accounts/identity-name.ts';

export type Role = 'download' | 'publish' | 'admin';

/** Who is calling: a user through a session, or a user's automation token limited to one identity and role. */
export type Principal =
  | { via: 'session'; userId: number; email: string; sessionId: number }
  | { via: 'token'; userId: number; email: string; tokenId: string; identity: string; role: Role };

/**
 * The one place that answers "may this principal do this in this identity". Each method
 * returns when allowed and throws a catalog error when not: `401 unauthorized` without a
 * principal, `404 not_found` when the identity does not exist, `403 forbidden` when the
 * role is too low.
 */
export interface Permissions {
  /** The principal's effective role in the identity (a token's role capped by its creator's), or null. */
  roleIn(principal: Principal | null, identity: string): Role | null;
  download(principal: Principal | null, identity: string): void;
  publish(principal: Principal | null, identity: string): void;
  admin(principal: Principal | null, identity: string): void;
  /**
   * Reading the member list (every member's email): a session of a member. Automation tokens
   * are `403 forbidden` whatever their role, since nothing they automate needs the list.
   */
  readMembers(principal: Principal | null, identity: string): void;
}

const rank: Record<Role, number> = { download: 1, publish: 2, admin: 3 };

/** Whether `role` includes `needed` (download < publish < admin). */
export function includes(role: Role | null, needed: Role): boolean {
  return role !== null && rank[role] >= rank[needed];
}

const weaker = (a: Role, b: Role): Role => (rank[a] <= rank[b] ? a : b);

const actions: Record<Role, string> = {
  download: 'download its private packages',
  publish: 'publish or revoke its packages',
  admin: 'manage its members',
};

export function createPermissions(deps: { accounts: Accounts }): Permissions {
  const { identities } = deps.accounts;

  /**
   * A session acts with its user's role. A token acts only in its own identity, with its
   * role capped by its creator's role as it is now: demoting or removing the creator
   * weakens or disables their tokens at once.
   */
  const roleIn = (principal: Principal | null, identity: string): Role | null => {
    if (!principal) return null;
    const own = identities.roleOf(principal.email, identity);
    if (principal.via === 'session' || own === null) return own;
    if (identityKey(principal.identity) !== identityKey(identity)) return null;
    return weaker(own, principal.role);
  };

  const require = (needed: Role) => (principal: Principal | null, identity: string) => {
    if (!principal) throw fail('unauthorized');
    const found = identities.find(identity);
    if (!found) throw fail('not_found', `There is no publishing identity named "${identity}".`);
    if (!includes(roleIn(principal, found.name), needed)) {
      throw fail('forbidden', `Only members of "${found.name}" with the ${needed} role or higher may ${actions[needed]}.`);
    }
  };

  const download = require('download');
  const readMembers = (principal: Principal | null, identity: string) => {
    if (principal?.via === 'token') throw fail('forbidden', 'Automation tokens cannot read the members of a publishing identity; use a session (log in).');
    download(principal, identity);
  };

  return { roleIn, download, publish: require('publish'), admin: require('admin'), readMembers };
}
