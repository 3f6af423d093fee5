import type { DatabaseSync } from 'node:sqlite';
import type { Clock } from '../clock.ts';
import type { Role } from '../permissions.ts';
import { transaction } from './database.ts';
import { identityKey } from './identity-name.ts';

export type Identity = { id: number; name: string; created: Date };
export type Member = { email: string; role: Role };

/** Why a membership change was refused; the routes turn each into its catalog error. */
export type MembershipRefusal = 'last_admin' | 'not_member';

export type Identities = {
  /** Creates the identity with `adminEmail` as its first admin; null when the name is taken (case-insensitively). */
  create(name: string, adminEmail: string): Identity | null;
  find(name: string): Identity | null;
  members(identity: Identity): Member[];
  /** The role of an address in an identity, or null. */
  roleOf(email: string, name: string): Role | null;
  /** Every identity the address is a member of, with its role, by name. */
  of(email: string): Array<{ name: string; role: Role }>;
  /** Adds the address or changes its role; refused when it would demote the last admin. */
  setMember(identity: Identity, email: string, role: Role): MembershipRefusal | null;
  /** Removes the address; refused when it is not a member, or is the last admin. */
  removeMember(identity: Identity, email: string): MembershipRefusal | null;
};

type Row = { id: number; name: string; created: number };

export function createIdentities(deps: { db: DatabaseSync; clock: Clock }): Identities {
  const { db, clock } = deps;
  const insert = db.prepare('INSERT INTO identities (name, name_key, created) VALUES (?, ?, ?) ON CONFLICT (name_key) DO NOTHING RETURNING id');
  const select = db.prepare('SELECT id, name, created FROM identities WHERE name_key = ?');
  const members = db.prepare('SELECT email, role FROM memberships WHERE identity_id = ? ORDER BY email');
  const roleOf = db.prepare('SELECT m.role FROM memberships m JOIN identities i ON i.id = m.identity_id WHERE i.name_key = ? AND m.email = ?');
  const of = db.prepare('SELECT i.name, m.role FROM memberships m JOIN identities i ON i.id = m.identity_id WHERE m.email = ? ORDER BY i.name_key');
  const memberRole = db.prepare('SELECT role FROM memberships WHERE identity_id = ? AND email = ?');
  const admins = db.prepare("SELECT count(*) AS n FROM memberships WHERE identity_id = ? AND role = 'admin'");
  const upsert = db.prepare(
    'INSERT INTO memberships (identity_id, email, role, added) VALUES (?, ?, ?, ?) ON CONFLICT (identity_id, email) DO UPDATE SET role = excluded.role',
  );
  const remove = db.prepare('DELETE FROM memberships WHERE identity_id = ? AND email = ?');

  const currentRole = (identity: Identity, email: string): Role | null =>
    ((memberRole.get(identity.id, email) as { role: Role } | undefined)?.role ?? null);
  const isLastAdmin = (identity: Identity, email: string): boolean =>
    currentRole(identity, email) === 'admin' && (admins.get(identity.id) as { n: number }).n <= 1;

  return {
    create(name, adminEmail) {
      return transaction(db, () => {
        const created = clock.now().getTime();
        const row = insert.get(name, identityKey(name), created) as { id: number } | undefined;
        if (!row) return null;
        upsert.run(row.id, adminEmail, 'admin', created);
        return { id: row.id, name, created: new Date(created) };
      });
    },
    find(name) {
      const row = select.get(identityKey(name)) as Row | undefined;
      return row ? { id: row.id, name: row.name, created: new Date(row.created) } : null;
    },
    members(identity) {
      return members.all(identity.id) as Member[];
    },
    roleOf(email, name) {
      return ((roleOf.get(identityKey(name), email) as { role: Role } | undefined)?.role ?? null);
    },
    of(email) {
      return of.all(email) as Array<{ name: string; role: Role }>;
    },
    setMember(identity, email, role) {
      return transaction(db, () => {
        if (role !== 'admin' && isLastAdmin(identity, email)) return 'last_admin';
        upsert.run(identity.id, email, role, clock.now().getTime());
        return null;
      });
    },
    removeMember(identity, email) {
      return transaction(db, () => {
        if (currentRole(identity, email) === null) return 'not_member';
        if (isLastAdmin(identity, email)) return 'last_admin';
        remove.run(identity.id, email);
        return null;
      });
    },
  };
}
