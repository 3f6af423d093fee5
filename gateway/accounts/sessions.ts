import type { DatabaseSync } from 'node:sqlite';
import type { Clock } from '../clock.ts';
import type { Client } from '../client-address.ts';
import { recordUse } from './database.ts';
import { hashSecret, newSecret, sameHash } from './secrets.ts';

export type Session = { id: number; userId: number; email: string };

/** A session as its owner sees it listed: when and where it was last used, never its secret. */
export type SessionInfo = { id: number; created: Date; lastUsed: Date; lastAddress: string | null; lastUserAgent: string | null; expires: Date };

/** How long a session lives: `idleMs` after its last use, and never more than `lifetimeMs` after the login. */
export type SessionLifetime = { idleMs: number; lifetimeMs: number };

export type Sessions = {
  /** Opens a session for the user, from `client`; answers its token, which is not kept. */
  create(userId: number, client: Client): { id: number; token: string };
  /** The live session a token opens, or null (unknown, logged out or expired); records where it was used. */
  find(token: string, client: Client): Session | null;
  /** The user's live sessions, oldest first. */
  list(userId: number): SessionInfo[];
  /** Logs the session out; its token never works again. */
  revoke(id: number): void;
  /** Logs out one of the user's live sessions; false when the user has no such session. */
  revokeOwn(userId: number, id: number): boolean;
};

type Row = {
  id: number;
  user_id: number;
  email: string;
  token_hash: Uint8Array;
  created: number;
  last_used: number | null;
  last_address: string | null;
  last_user_agent: string | null;
};

/** How stale `last_used` may be before a use from the same place writes it again: one write per session per minute at most. */
const touchEveryMs = 60_000;

export function createSessions(deps: { db: DatabaseSync; clock: Clock; lifetime: SessionLifetime }): Sessions {
  const { db, clock, lifetime } = deps;
  const columns = 's.id, s.user_id, u.email, s.token_hash, s.created, s.last_used, s.last_address, s.last_user_agent';
  // A session is live while it is not revoked, younger than its lifetime and used within the idle time.
  const live = 's.revoked IS NULL AND s.created > :oldest AND coalesce(s.last_used, s.created) > :idleSince';
  const insert = db.prepare(
    'INSERT INTO sessions (user_id, token_hash, created, last_used, last_address, last_user_agent) VALUES (?, ?, ?, ?, ?, ?) RETURNING id',
  );
  const select = db.prepare(`SELECT ${columns} FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = :hash AND ${live}`);
  const list = db.prepare(`SELECT ${columns} FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.user_id = :user AND ${live} ORDER BY s.id`);
  const touch = db.prepare('UPDATE sessions SET last_used = ?, last_address = ?, last_user_agent = ? WHERE id = ?');
  const revoke = db.prepare('UPDATE sessions SET revoked = ? WHERE id = ? AND revoked IS NULL');
  const revokeOwn = db.prepare(`UPDATE sessions AS s SET revoked = :now WHERE s.id = :id AND s.user_id = :user AND ${live}`);

  const bounds = (now: number) => ({ oldest: now - lifetime.lifetimeMs, idleSince: now - lifetime.idleMs });
  const info = (row: Row): SessionInfo => {
    const lastUsed = row.last_used ?? row.created;
    return {
      id: row.id,
      created: new Date(row.created),
      lastUsed: new Date(lastUsed),
      lastAddress: row.last_address,
      lastUserAgent: row.last_user_agent,
      expires: new Date(Math.min(row.created + lifetime.lifetimeMs, lastUsed + lifetime.idleMs)),
    };
  };

  return {
    create(userId, client) {
      const token = newSecret('session');
      const now = clock.now().getTime();
      const row = insert.get(userId, hashSecret(token), now, now, client.address, client.userAgent) as { id: number };
      return { id: row.id, token };
    },
    find(token, client) {
      const hash = hashSecret(token);
      const now = clock.now().getTime();
      const row = select.get({ hash, ...bounds(now) }) as Row | undefined;
      if (!row || !sameHash(row.token_hash, hash)) return null;
      const moved = row.last_address !== client.address || row.last_user_agent !== client.userAgent;
      if (row.last_used === null || now - row.last_used >= touchEveryMs || moved) recordUse(db, () => touch.run(now, client.address, client.userAgent, row.id));
      return { id: row.id, userId: row.user_id, email: row.email };
    },
    list(userId) {
      return (list.all({ user: userId, ...bounds(clock.now().getTime()) }) as Row[]).map(info);
    },
    revoke(id) {
      revoke.run(clock.now().getTime(), id);
    },
    revokeOwn(userId, id) {
      const now = clock.now().getTime();
      return Number(revokeOwn.run({ now, id, user: userId, ...bounds(now) }).changes) > 0;
    },
  };
}
