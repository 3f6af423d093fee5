import type { Clock } from '../../gateway/clock.ts';
import type { Logger } from '../../gateway/log.ts';
import { openAccounts } from '../../gateway/accounts/accounts.ts';
import { isIdentityName } from '../../gateway/accounts/identity-name.ts';

/** How long a minted publish token lives, and when a fresh one replaces it. */
const tokenLifetimeMs = 60 * 60 * 1000;
const renewAfterMs = 30 * 60 * 1000;

export type Access = { token: string } | { refused: string };

/**
 * Publish rights for an import, straight from the accounts database (safe beside a running
 * registry: SQLite in WAL mode). For each author it makes sure the publishing identity exists
 * (created with `adminEmail` as its admin when missing) and that `adminEmail` may publish in
 * it, then mints a short-lived publish token for that identity. `close` revokes every token
 * minted, so none outlives the import.
 */
export type PublishAccess = {
  tokenFor(author: string): Access;
  close(): void;
};

type Minted = { id: string; token: string; at: number };

export function openPublishAccess(options: { accountsFile: string; adminEmail: string; clock: Clock; log: Logger }): PublishAccess {
  const { adminEmail, clock } = options;
  const accounts = openAccounts({ file: options.accountsFile, clock, log: options.log });
  const user = accounts.users.ensure(adminEmail);
  const minted = new Map<string, Minted>();
  const revoke = (m: Minted) => accounts.tokens.revoke(user.id, m.id);

  const identityFor = (author: string) => {
    const existing = accounts.identities.find(author);
    if (existing) return { identity: existing, created: false };
    const created = accounts.identities.create(author, adminEmail);
    if (created) options.log.info('identity_created', { identity: created.name, by: 'import' });
    return { identity: created ?? accounts.identities.find(author), created: created !== null };
  };

  return {
    tokenFor(author) {
      if (!isIdentityName(author)) return { refused: `"${author}" cannot be a publishing identity name` };
      const { identity } = identityFor(author);
      if (!identity) return { refused: `the publishing identity ${author} could not be created` };
      const role = accounts.identities.roleOf(adminEmail, identity.name);
      if (role !== 'publish' && role !== 'admin') {
        return { refused: `${adminEmail} may not publish in the publishing identity ${identity.name}; one of its admins can add it` };
      }
      const key = identity.name.toLowerCase();
      const now = clock.now().getTime();
      const current = minted.get(key);
      if (current && now - current.at < renewAfterMs) return { token: current.token };
      if (current) revoke(current);
      const expires = new Date(now + tokenLifetimeMs);
      const fresh = accounts.tokens.create({ userId: user.id, name: 'import', identity, role: 'publish', expires });
      minted.set(key, { ...fresh, at: now });
      return { token: fresh.token };
    },
    close() {
      try {
        for (const m of minted.values()) revoke(m);
        minted.clear();
      } finally {
        accounts.close();
      }
    },
  };
}
