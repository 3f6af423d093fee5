import type { DatabaseSync } from 'node:sqlite';
import type { Clock } from '../clock.ts';
import type { Logger } from '../log.ts';
import type { Principal } from '../permissions.ts';
import type { Client } from '../client-address.ts';
import type { RateLimit } from '../rate-limit.ts';
import { openDatabase } from './database.ts';
import { createUsers, type Users } from './users.ts';
import { createSessions, type Sessions } from './sessions.ts';
import { createLoginRequests, type LoginRequests } from './login-requests.ts';
import { createLoginWaiters } from './login-waiters.ts';
import { createLoginLimits, type LoginLimits } from './login-limits.ts';
import { createIdentities, type Identities } from './identities.ts';
import { createTokens, type Tokens } from './tokens.ts';
import { secretKind } from './secrets.ts';
import { createPageTokens, type PageTokens } from './page-tokens.ts';

/** How accounts behave; everything but the file, the clock and the log has a default (below). */
export type AccountsOptions = {
  /** The SQLite database file (`<REGISTRY_DATA>/accounts.sqlite`). */
  file: string;
  clock: Clock;
  log: Logger;
  /** How long a mailed code and link work. */
  codeLifetimeMs?: number;
  /** Wrong codes after which a login request is dead. */
  maxWrongCodes?: number;
  /** How long `POST /session/fetch` without a code is held open waiting for the link. */
  linkWaitMs?: number;
  /** Login mails to one address. */
  loginMailPerAddress?: RateLimit;
  /** Login mails asked by one client address. */
  loginMailPerClient?: RateLimit;
  /** `POST /session/fetch` calls from one client address. */
  fetchPerClient?: RateLimit;
  /** How long a session lives unused. */
  sessionIdleMs?: number;
  /** How long a session lives at most, used or not. */
  sessionLifetimeMs?: number;
};

export type AccountsSettings = Required<Omit<AccountsOptions, 'file' | 'clock' | 'log'>>;

const minute = 60_000;
const day = 24 * 60 * minute;

/**
 * The defaults. Codes: the protocol's 15 minutes and 5 tries. Login mail, shaped like
 * crates.io's publish limits (a burst, then a steady rate): 5 at once to one address, then
 * one every 10 minutes, so a mistyped or lost mail costs nothing while nobody can flood a
 * mailbox (at most 6 an hour); 20 at once from one client address, then one a minute, so an
 * office behind one NAT logs in freely while one machine cannot mail-bomb a list of strangers.
 * Fetches: Hex's anonymous API limit, 100 a minute per client address, far above what a
 * client polling for the link needs (2 a minute) and far below what guessing codes across
 * many login requests would. Sessions: 30 days unused, 90 days at most, as a browser session of
 * a package registry lasts (crates.io's and GitHub's keep a session a few weeks to months):
 * someone publishing monthly stays logged in, a session forgotten on a machine dies within a
 * month, and a stolen one works at most a quarter. Automation uses tokens, with their own expiry.
 */
export const accountsDefaults: AccountsSettings = {
  codeLifetimeMs: 15 * minute,
  maxWrongCodes: 5,
  linkWaitMs: 30_000,
  loginMailPerAddress: { burst: 5, everyMs: 10 * minute },
  loginMailPerClient: { burst: 20, everyMs: minute },
  fetchPerClient: { burst: 100, everyMs: minute / 100 },
  sessionIdleMs: 30 * day,
  sessionLifetimeMs: 90 * day,
};

export interface Accounts {
  readonly settings: AccountsSettings;
  /** The open database, for ops tools (online backup); the registry goes through the stores below. */
  readonly db: DatabaseSync;
  readonly users: Users;
  readonly sessions: Sessions;
  readonly logins: LoginRequests;
  readonly identities: Identities;
  readonly tokens: Tokens;
  readonly limits: LoginLimits;
  /** The tokens of the login link's page buttons. */
  readonly pageTokens: PageTokens;
  /** The principal a bearer secret stands for: a live session or a live, unexpired token; else null. Records where it was used. */
  authenticate(secret: string, client: Client): Principal | null;
  /** Waits until the login request's link page is answered (confirmed or denied), `ms` pass, `signal` aborts, or waiting stops. */
  waitForConfirmation(requestId: number, ms: number, signal?: AbortSignal): Promise<void>;
  /** Tells the login request's waiting fetches that its link's page answered (confirmed or denied). */
  answered(requestId: number): void;
  /** Releases every held fetch at once and holds no new one (the registry is closing). */
  stopWaiting(): void;
  /** True once `stopWaiting` or `close` was called. */
  readonly stopping: boolean;
  close(): void;
}

export function openAccounts(options: AccountsOptions): Accounts {
  const { file, clock, log } = options;
  const settings: AccountsSettings = {
    codeLifetimeMs: options.codeLifetimeMs ?? accountsDefaults.codeLifetimeMs,
    maxWrongCodes: options.maxWrongCodes ?? accountsDefaults.maxWrongCodes,
    linkWaitMs: options.linkWaitMs ?? accountsDefaults.linkWaitMs,
    loginMailPerAddress: options.loginMailPerAddress ?? accountsDefaults.loginMailPerAddress,
    loginMailPerClient: options.loginMailPerClient ?? accountsDefaults.loginMailPerClient,
    fetchPerClient: options.fetchPerClient ?? accountsDefaults.fetchPerClient,
    sessionIdleMs: options.sessionIdleMs ?? accountsDefaults.sessionIdleMs,
    sessionLifetimeMs: options.sessionLifetimeMs ?? accountsDefaults.sessionLifetimeMs,
  };
  const db = openDatabase(file);
  const users = createUsers({ db, clock });
  const sessions = createSessions({ db, clock, lifetime: { idleMs: settings.sessionIdleMs, lifetimeMs: settings.sessionLifetimeMs } });
  const issueSession = (email: string, client: Client) => sessions.create(users.ensure(email).id, client).token;
  const logins = createLoginRequests({ db, clock, options: settings, issueSession });
  const identities = createIdentities({ db, clock });
  const tokens = createTokens({ db, clock });
  const limits = createLoginLimits({ clock, options: settings });
  const waiters = createLoginWaiters();
  const pageTokens = createPageTokens();
  let waiting = true;
  let open = true;
  log.info('accounts_opened', { file });

  return {
    settings,
    db,
    users,
    sessions,
    logins,
    identities,
    tokens,
    limits,
    pageTokens,
    authenticate(secret, client) {
      return principalFor(secret, client, sessions, tokens);
    },
    waitForConfirmation(requestId, ms, signal) {
      return waiting ? waiters.wait(requestId, ms, signal) : Promise.resolve();
    },
    answered(requestId) {
      waiters.wake(requestId);
    },
    stopWaiting() {
      waiting = false;
      waiters.wakeAll();
    },
    get stopping() {
      return !waiting;
    },
    close() {
      if (!open) return;
      open = false;
      waiting = false;
      waiters.wakeAll();
      db.close();
    },
  };
}

function principalFor(secret: string, client: Client, sessions: Sessions, tokens: Tokens): Principal | null {
  switch (secretKind(secret)) {
    case 'session': {
      const session = sessions.find(secret, client);
      return session && { via: 'session', userId: session.userId, email: session.email, sessionId: session.id };
    }
    case 'token': {
      const token = tokens.find(secret, client);
      return token && { via: 'token', userId: token.userId, email: token.email, tokenId: token.id, identity: token.identity, role: token.role };
    }
    default:
      return null;
  }
}
