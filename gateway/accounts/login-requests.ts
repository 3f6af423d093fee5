import type { DatabaseSync } from 'node:sqlite';
import type { Clock } from '../clock.ts';
import { transaction } from './database.ts';
import { hashCode, hashSecret, newCode, newSecret, sameHash } from './secrets.ts';

/** What a new login request hands out once: to the caller (fetch token) and to the mail (code, link secret). */
export type LoginStart = { id: number; fetchToken: string; code: string; linkSecret: string; expires: Date };

/** Why a login request cannot give a session: each is `400 invalid_code` with its own sentence. */
export type LoginRefusal = 'unknown' | 'expired' | 'used' | 'dead' | 'wrong';

export type LoginOutcome =
  | { kind: 'session'; token: string; email: string; requestId: number }
  | { kind: 'pending'; requestId: number }
  | { kind: 'refused'; reason: LoginRefusal; triesLeft: number };

export type LinkOutcome = { kind: 'confirmed'; requestId: number; email: string } | { kind: 'refused'; reason: LoginRefusal };

export type LoginRequests = {
  start(email: string): LoginStart;
  /** Forgets a request whose mail could not be sent, so that its fetch token never works. */
  discard(id: number): void;
  /** Trades the fetch token and the mailed code for a session; a wrong code uses up one try. */
  redeemCode(fetchToken: string, code: string): LoginOutcome;
  /** Trades the fetch token for a session once the link was opened; else `pending`. */
  collect(fetchToken: string): LoginOutcome;
  /** Marks the request of a link secret confirmed (the page behind the link). */
  confirmLink(linkSecret: string): LinkOutcome;
};

export type LoginRequestOptions = { codeLifetimeMs: number; maxWrongCodes: number };

type Row = {
  id: number;
  email: string;
  fetch_hash: Uint8Array;
  code_hash: Uint8Array;
  link_hash: Uint8Array;
  expires: number;
  wrong_codes: number;
  confirmed: number | null;
  used: number | null;
};

/** Requests are deleted a day after they expire: long enough to answer "expired" rather than "unknown". */
const keepExpiredMs = 24 * 60 * 60 * 1000;

function prepare(db: DatabaseSync) {
  const columns = 'id, email, fetch_hash, code_hash, link_hash, expires, wrong_codes, confirmed, used';
  return {
    byFetch: db.prepare(`SELECT ${columns} FROM login_requests WHERE fetch_hash = ?`),
    byLink: db.prepare(`SELECT ${columns} FROM login_requests WHERE link_hash = ?`),
    insert: db.prepare(
      'INSERT INTO login_requests (email, fetch_hash, code_hash, link_hash, created, expires) VALUES (?, ?, ?, ?, ?, ?) RETURNING id',
    ),
    prune: db.prepare('DELETE FROM login_requests WHERE expires < ?'),
    remove: db.prepare('DELETE FROM login_requests WHERE id = ?'),
    wrong: db.prepare('UPDATE login_requests SET wrong_codes = wrong_codes + 1 WHERE id = ?'),
    confirm: db.prepare('UPDATE login_requests SET confirmed = ? WHERE id = ? AND confirmed IS NULL'),
    use: db.prepare('UPDATE login_requests SET used = ? WHERE id = ? AND used IS NULL'),
  };
}

/** Why a request can no longer give a session, in the order a person should hear it; null while it can. */
function closedReason(row: Row, options: LoginRequestOptions, now: number): LoginRefusal | null {
  if (row.used !== null) return 'used';
  if (row.wrong_codes >= options.maxWrongCodes) return 'dead';
  if (row.expires <= now) return 'expired';
  return null;
}

function refused(reason: LoginRefusal, options: LoginRequestOptions, row?: Row): LoginOutcome {
  return { kind: 'refused', reason, triesLeft: row ? Math.max(0, options.maxWrongCodes - row.wrong_codes) : 0 };
}

export function createLoginRequests(deps: {
  db: DatabaseSync;
  clock: Clock;
  options: LoginRequestOptions;
  /** Opens a session for the address (creating its user on a first login); answers the token. */
  issueSession: (email: string) => string;
}): LoginRequests {
  const { db, clock, options, issueSession } = deps;
  const now = () => clock.now().getTime();
  const sql = prepare(db);
  const find = (fetchToken: string): Row | null => {
    const hash = hashSecret(fetchToken);
    const row = sql.byFetch.get(hash) as Row | undefined;
    return row && sameHash(row.fetch_hash, hash) ? row : null;
  };
  /** The request of a fetch token while it can still give a session, else the refusal. */
  const open = (fetchToken: string): Row | LoginOutcome => {
    const row = find(fetchToken);
    if (!row) return refused('unknown', options);
    const closed = closedReason(row, options, now());
    return closed ? refused(closed, options, row) : row;
  };
  const giveSession = (row: Row): LoginOutcome => {
    sql.use.run(now(), row.id);
    return { kind: 'session', token: issueSession(row.email), email: row.email, requestId: row.id };
  };

  return {
    start(email) {
      const fetchToken = newSecret('fetch');
      const code = newCode();
      const linkSecret = newSecret('link');
      const created = now();
      const expires = created + options.codeLifetimeMs;
      const id = transaction(db, () => {
        sql.prune.run(created - keepExpiredMs);
        const row = sql.insert.get(email, hashSecret(fetchToken), hashCode(fetchToken, code), hashSecret(linkSecret), created, expires) as { id: number };
        return row.id;
      });
      return { id, fetchToken, code, linkSecret, expires: new Date(expires) };
    },
    discard(id) {
      sql.remove.run(id);
    },
    redeemCode(fetchToken, code) {
      return transaction(db, () => {
        const row = open(fetchToken);
        if ('kind' in row) return row;
        if (sameHash(row.code_hash, hashCode(fetchToken, code))) return giveSession(row);
        sql.wrong.run(row.id);
        const after = { ...row, wrong_codes: row.wrong_codes + 1 };
        return refused(after.wrong_codes >= options.maxWrongCodes ? 'dead' : 'wrong', options, after);
      });
    },
    collect(fetchToken) {
      return transaction(db, () => {
        const row = open(fetchToken);
        if ('kind' in row) return row;
        return row.confirmed === null ? { kind: 'pending', requestId: row.id } : giveSession(row);
      });
    },
    confirmLink(linkSecret) {
      const hash = hashSecret(linkSecret);
      const row = sql.byLink.get(hash) as Row | undefined;
      if (!row || !sameHash(row.link_hash, hash)) return { kind: 'refused', reason: 'unknown' };
      const closed = closedReason(row, options, now());
      if (closed) return { kind: 'refused', reason: closed };
      sql.confirm.run(now(), row.id);
      return { kind: 'confirmed', requestId: row.id, email: row.email };
    },
  };
}
