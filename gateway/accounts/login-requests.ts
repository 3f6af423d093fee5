import type { DatabaseSync } from 'node:sqlite';
import type { Clock } from '../clock.ts';
import type { Client } from '../client-address.ts';
import { transaction } from './database.ts';
import { hashCode, hashSecret, newCode, newSecret, sameHash } from './secrets.ts';

/** What a new login request hands out once: to the caller (fetch token) and to the mail (code, link secret). */
export type LoginStart = { id: number; fetchToken: string; code: string; linkSecret: string; expires: Date };

/**
 * Why a login request cannot give a session: each is `400 invalid_code` with its own
 * sentence, but `denied` (the person the mail went to said no), which is `403 login_denied`.
 */
export type LoginRefusal = 'unknown' | 'expired' | 'used' | 'dead' | 'wrong' | 'denied';

export type LoginOutcome =
  | { kind: 'session'; token: string; email: string; requestId: number }
  | { kind: 'pending'; requestId: number }
  | { kind: 'refused'; reason: LoginRefusal; triesLeft: number };

/** What the link's page shows about a login request before anyone confirms it. */
export type PendingLogin = { id: number; email: string; address: string; userAgent: string; created: Date; expires: Date };

export type LinkOutcome =
  | { kind: 'confirmed' | 'denied'; requestId: number; email: string }
  | { kind: 'refused'; reason: LoginRefusal };

export type LoginRequests = {
  /** A new login request for `email`, asked by `client` (recorded, for the link's page). */
  start(email: string, client: Client): LoginStart;
  /** Forgets a request whose mail could not be sent, so that its fetch token never works. */
  discard(id: number): void;
  /** Trades the fetch token and the mailed code for a session opened for `client`; a wrong code uses up one try. */
  redeemCode(fetchToken: string, code: string, client: Client): LoginOutcome;
  /** Trades the fetch token for a session once the link's page confirmed the login; else `pending`. */
  collect(fetchToken: string, client: Client): LoginOutcome;
  /** The request of a link secret while it can still be confirmed: for the link's page, which changes nothing. */
  pending(linkSecret: string): PendingLogin | { kind: 'refused'; reason: LoginRefusal };
  /** Marks the request of a link secret confirmed (the page's confirm button). */
  confirmLink(linkSecret: string): LinkOutcome;
  /** Kills the request of a link secret (the page's deny button): it never gives a session. */
  denyLink(linkSecret: string): LinkOutcome;
};

export type LoginRequestOptions = { codeLifetimeMs: number; maxWrongCodes: number };

type Row = {
  id: number;
  email: string;
  fetch_hash: Uint8Array;
  code_hash: Uint8Array;
  link_hash: Uint8Array;
  created: number;
  expires: number;
  wrong_codes: number;
  confirmed: number | null;
  used: number | null;
  denied: number | null;
  client_address: string;
  user_agent: string;
};

/** Requests are deleted a day after they expire: long enough to answer "expired" rather than "unknown". */
const keepExpiredMs = 24 * 60 * 60 * 1000;

function prepare(db: DatabaseSync) {
  const columns = 'id, email, fetch_hash, code_hash, link_hash, created, expires, wrong_codes, confirmed, used, denied, client_address, user_agent';
  return {
    byFetch: db.prepare(`SELECT ${columns} FROM login_requests WHERE fetch_hash = ?`),
    byLink: db.prepare(`SELECT ${columns} FROM login_requests WHERE link_hash = ?`),
    insert: db.prepare(
      'INSERT INTO login_requests (email, fetch_hash, code_hash, link_hash, created, expires, client_address, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id',
    ),
    prune: db.prepare('DELETE FROM login_requests WHERE expires < ?'),
    remove: db.prepare('DELETE FROM login_requests WHERE id = ?'),
    wrong: db.prepare('UPDATE login_requests SET wrong_codes = wrong_codes + 1 WHERE id = ?'),
    confirm: db.prepare('UPDATE login_requests SET confirmed = ? WHERE id = ? AND confirmed IS NULL'),
    use: db.prepare('UPDATE login_requests SET used = ? WHERE id = ? AND used IS NULL'),
    deny: db.prepare('UPDATE login_requests SET denied = ? WHERE id = ? AND denied IS NULL'),
  };
}

/** Why a request can no longer give a session, in the order a person should hear it; null while it can. */
function closedReason(row: Row, options: LoginRequestOptions, now: number): LoginRefusal | null {
  if (row.used !== null) return 'used';
  if (row.denied !== null) return 'denied';
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
  /** Opens a session for the address (creating its user on a first login), from `client`; answers the token. */
  issueSession: (email: string, client: Client) => string;
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
  const giveSession = (row: Row, client: Client): LoginOutcome => {
    sql.use.run(now(), row.id);
    return { kind: 'session', token: issueSession(row.email, client), email: row.email, requestId: row.id };
  };
  /** The request of a link secret while it is open, else the refusal. */
  const openLink = (linkSecret: string): Row | { kind: 'refused'; reason: LoginRefusal } => {
    const hash = hashSecret(linkSecret);
    const row = sql.byLink.get(hash) as Row | undefined;
    if (!row || !sameHash(row.link_hash, hash)) return { kind: 'refused', reason: 'unknown' };
    const closed = closedReason(row, options, now());
    return closed ? { kind: 'refused', reason: closed } : row;
  };
  /** Records the answer of the link's page, in one transaction with the check that the request is still open. */
  const answerLink = (linkSecret: string, answer: 'confirmed' | 'denied'): LinkOutcome =>
    transaction(db, () => {
      const row = openLink(linkSecret);
      if ('kind' in row) return row;
      (answer === 'confirmed' ? sql.confirm : sql.deny).run(now(), row.id);
      return { kind: answer, requestId: row.id, email: row.email };
    });

  return {
    start(email, client) {
      const fetchToken = newSecret('fetch');
      const code = newCode();
      const linkSecret = newSecret('link');
      const created = now();
      const expires = created + options.codeLifetimeMs;
      const id = transaction(db, () => {
        sql.prune.run(created - keepExpiredMs);
        const row = sql.insert.get(email, hashSecret(fetchToken), hashCode(fetchToken, code), hashSecret(linkSecret), created, expires, client.address, client.userAgent) as {
          id: number;
        };
        return row.id;
      });
      return { id, fetchToken, code, linkSecret, expires: new Date(expires) };
    },
    discard(id) {
      sql.remove.run(id);
    },
    redeemCode(fetchToken, code, client) {
      return transaction(db, () => {
        const row = open(fetchToken);
        if ('kind' in row) return row;
        if (sameHash(row.code_hash, hashCode(fetchToken, code))) return giveSession(row, client);
        sql.wrong.run(row.id);
        const after = { ...row, wrong_codes: row.wrong_codes + 1 };
        return refused(after.wrong_codes >= options.maxWrongCodes ? 'dead' : 'wrong', options, after);
      });
    },
    collect(fetchToken, client) {
      return transaction(db, () => {
        const row = open(fetchToken);
        if ('kind' in row) return row;
        return row.confirmed === null ? { kind: 'pending', requestId: row.id } : giveSession(row, client);
      });
    },
    pending(linkSecret) {
      const row = openLink(linkSecret);
      if ('kind' in row) return row;
      const { id, email, client_address: address, user_agent: userAgent } = row;
      return { id, email, address, userAgent, created: new Date(row.created), expires: new Date(row.expires) };
    },
    confirmLink(linkSecret) {
      return answerLink(linkSecret, 'confirmed');
    },
    denyLink(linkSecret) {
      return answerLink(linkSecret, 'denied');
    },
  };
}
