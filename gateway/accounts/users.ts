import type { DatabaseSync } from 'node:sqlite';
import type { Clock } from '../clock.ts';

export type User = { id: number; email: string; created: Date };

export type Users = {
  /** The user with this (normalised) address, created on its first login. */
  ensure(email: string): User;
  byEmail(email: string): User | null;
};

type Row = { id: number; email: string; created: number };

const toUser = (row: Row): User => ({ id: row.id, email: row.email, created: new Date(row.created) });

export function createUsers(deps: { db: DatabaseSync; clock: Clock }): Users {
  const { db, clock } = deps;
  const insert = db.prepare('INSERT INTO users (email, created) VALUES (?, ?) ON CONFLICT (email) DO NOTHING');
  const select = db.prepare('SELECT id, email, created FROM users WHERE email = ?');
  const byEmail = (email: string): User | null => {
    const row = select.get(email) as Row | undefined;
    return row ? toUser(row) : null;
  };
  return {
    byEmail,
    ensure(email) {
      insert.run(email, clock.now().getTime());
      return byEmail(email) as User;
    },
  };
}
