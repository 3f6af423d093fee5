import crypto from 'node:crypto';
import type { DatabaseSync } from 'node:sqlite';
import type { Clock } from '../clock.ts';
import type { Client } from '../client-address.ts';
import type { Role } from '../permissions.ts';
import type { Identity } from './identities.ts';
import { recordUse } from './database.ts';
import { hashSecret, newSecret, sameHash } from './secrets.ts';

/** The roles a token may carry: never admin, so automation cannot change who is a member. */
export type TokenRole = Exclude<Role, 'admin'>;

/** A token as its owner sees it listed: everything but the secret. */
export type TokenInfo = {
  id: string;
  name: string;
  identity: string;
  role: TokenRole;
  created: Date;
  expires: Date | null;
  lastUsed: Date | null;
  /** Where it was last used from: the client address and user agent; null before its first use. */
  lastAddress: string | null;
  lastUserAgent: string | null;
};

/** A live token presented by a caller: whose it is and what it is limited to. */
export type TokenUse = { id: string; userId: number; email: string; identity: string; role: TokenRole };

export type Tokens = {
  /** Mints a token; answers its secret, which is not kept. */
  create(input: { userId: number; name: string; identity: Identity; role: TokenRole; expires: Date | null }): { id: string; token: string };
  /** The user's tokens that are not revoked (expired ones included, marked by `expires`), oldest first. */
  list(userId: number): TokenInfo[];
  /** Revokes one of the user's tokens; false when the user has no such live token. */
  revoke(userId: number, id: string): boolean;
  /** The live, unexpired token a secret opens, or null; records when and where it was used. */
  find(token: string, client: Client): TokenUse | null;
};

type InfoRow = {
  id: string;
  name: string;
  identity: string;
  role: TokenRole;
  created: number;
  expires: number | null;
  last_used: number | null;
  last_address: string | null;
  last_user_agent: string | null;
};
type UseRow = {
  id: string;
  user_id: number;
  email: string;
  identity: string;
  role: TokenRole;
  token_hash: Uint8Array;
  expires: number | null;
  last_used: number | null;
  last_address: string | null;
  last_user_agent: string | null;
};

/** How stale `lastUsed` may be before a use from the same place writes it again: it is exact to the minute. */
const touchEveryMs = 60_000;

const date = (ms: number | null) => (ms === null ? null : new Date(ms));

export function createTokens(deps: { db: DatabaseSync; clock: Clock }): Tokens {
  const { db, clock } = deps;
  const insert = db.prepare(
    'INSERT INTO tokens (id, user_id, name, identity_id, role, token_hash, created, expires) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const list = db.prepare(`
    SELECT t.id, t.name, i.name AS identity, t.role, t.created, t.expires, t.last_used, t.last_address, t.last_user_agent
    FROM tokens t JOIN identities i ON i.id = t.identity_id
    WHERE t.user_id = ? AND t.revoked IS NULL ORDER BY t.created, t.rowid`);
  const revoke = db.prepare('UPDATE tokens SET revoked = ? WHERE id = ? AND user_id = ? AND revoked IS NULL');
  const find = db.prepare(`
    SELECT t.id, t.user_id, u.email, i.name AS identity, t.role, t.token_hash, t.expires, t.last_used, t.last_address, t.last_user_agent
    FROM tokens t JOIN users u ON u.id = t.user_id JOIN identities i ON i.id = t.identity_id
    WHERE t.token_hash = ? AND t.revoked IS NULL`);
  const touch = db.prepare('UPDATE tokens SET last_used = ?, last_address = ?, last_user_agent = ? WHERE id = ?');

  return {
    create(input) {
      const id = crypto.randomUUID();
      const token = newSecret('token');
      const expires = input.expires?.getTime() ?? null;
      insert.run(id, input.userId, input.name, input.identity.id, input.role, hashSecret(token), clock.now().getTime(), expires);
      return { id, token };
    },
    list(userId) {
      return (list.all(userId) as InfoRow[]).map((row) => ({
        id: row.id,
        name: row.name,
        identity: row.identity,
        role: row.role,
        created: new Date(row.created),
        expires: date(row.expires),
        lastUsed: date(row.last_used),
        lastAddress: row.last_address,
        lastUserAgent: row.last_user_agent,
      }));
    },
    revoke(userId, id) {
      return Number(revoke.run(clock.now().getTime(), id, userId).changes) > 0;
    },
    find(token, client) {
      const hash = hashSecret(token);
      const row = find.get(hash) as UseRow | undefined;
      const now = clock.now().getTime();
      if (!row || !sameHash(row.token_hash, hash) || (row.expires !== null && row.expires <= now)) return null;
      const moved = row.last_address !== client.address || row.last_user_agent !== client.userAgent;
      if (row.last_used === null || now - row.last_used >= touchEveryMs || moved) recordUse(db, () => touch.run(now, client.address, client.userAgent, row.id));
      return { id: row.id, userId: row.user_id, email: row.email, identity: row.identity, role: row.role };
    },
  };
}
