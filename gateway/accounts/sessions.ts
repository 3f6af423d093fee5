import type { DatabaseSync } from 'node:sqlite';
import type { Clock } from '../clock.ts';
import { hashSecret, newSecret, sameHash } from './secrets.ts';

export type Session = { id: number; userId: number; email: string };

export type Sessions = {
  /** Opens a session for the user; answers its token, which is not kept. */
  create(userId: number): { id: number; token: string };
  /** The live session a token opens, or null (unknown or logged out). Sessions do not expire. */
  find(token: string): Session | null;
  /** Logs the session out; its token never works again. */
  revoke(id: number): void;
};

type Row = { id: number; user_id: number; email: string; token_hash: Uint8Array; last_used: number | null };

/** How stale `last_used` may be before a use writes it again: one write per session per minute at most. */
const touchEveryMs = 60_000;

export function createSessions(deps: { db: DatabaseSync; clock: Clock }): Sessions {
  const { db, clock } = deps;
  const insert = db.prepare('INSERT INTO sessions (user_id, token_hash, created) VALUES (?, ?, ?) RETURNING id');
  const select = db.prepare(`
    SELECT s.id, s.user_id, u.email, s.token_hash, s.last_used
    FROM sessions s JOIN users u ON u.id = s.user_id
    WHERE s.token_hash = ? AND s.revoked IS NULL`);
  const touch = db.prepare('UPDATE sessions SET last_used = ? WHERE id = ?');
  const revoke = db.prepare('UPDATE sessions SET revoked = ? WHERE id = ? AND revoked IS NULL');
  return {
    create(userId) {
      const token = newSecret('session');
      const row = insert.get(userId, hashSecret(token), clock.now().getTime()) as { id: number };
      return { id: row.id, token };
    },
    find(token) {
      const hash = hashSecret(token);
      const row = select.get(hash) as Row | undefined;
      if (!row || !sameHash(row.token_hash, hash)) return null;
      const now = clock.now().getTime();
      if (row.last_used === null || now - row.last_used >= touchEveryMs) touch.run(now, row.id);
      return { id: row.id, userId: row.user_id, email: row.email };
    },
    revoke(id) {
      revoke.run(clock.now().getTime(), id);
    },
  };
}
