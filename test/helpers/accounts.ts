import type { RegistryOverrides } from '../../gateway/registry.ts';
import type { AccountsOptions } from '../../gateway/accounts/accounts.ts';
import type { Clock } from '../../gateway/clock.ts';
import type { Role } from '../../gateway/permissions.ts';
import type { Client } from '../../gateway/client-address.ts';
import { startRegistry, type TestRegistry } from './registry.ts';
import { startSmtp, type ReceivedMail, type TestSmtp } from './smtp.ts';
import { call, expectJson } from './http.ts';

export { expectError, call, expectJson } from './http.ts';

/** A registry that sends its login mail to a real SMTP server started for it. */
export type MailRegistry = TestRegistry & { smtp: TestSmtp };

/** What the builders below need of a registry: its URL (and, to log in, the SMTP server it mails to). */
export type Reachable = Pick<TestRegistry, 'url'>;
export type Mailing = Reachable & { smtp: TestSmtp };

/**
 * Starts an SMTP server on a free port (or uses `smtp`), then a registry with SMTP_URL set to it.
 * `close()` closes the registry, then the SMTP server it started.
 */
export async function startRegistryWithMail(
  options: { env?: Record<string, string>; dataDir?: string; overrides?: RegistryOverrides; smtp?: TestSmtp } = {},
): Promise<MailRegistry> {
  const smtp = options.smtp ?? (await startSmtp());
  const ownSmtp = options.smtp === undefined;
  try {
    const reg = await startRegistry({
      env: { SMTP_URL: smtp.url, ...options.env },
      ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
      ...(options.overrides === undefined ? {} : { overrides: options.overrides }),
    });
    return {
      ...reg,
      smtp,
      async close() {
        await reg.close();
        if (ownSmtp) await smtp.close();
      },
    };
  } catch (err) {
    if (ownSmtp) await smtp.close();
    throw err;
  }
}

/** A test's `fetch()` as the registry records a client: its address and user agent. */
export const fetchClient: Client = { address: '127.0.0.1', userAgent: 'node' };

/** The code and the link of a login mail, read from its text as a person would. */
export function readLoginMail(mail: ReceivedMail): { code: string; link: string } {
  const code = /^Your confirmation code is: (\S+)\s*$/m.exec(mail.text)?.[1];
  const link = /^Or confirm by opening: (\S+)\s*$/m.exec(mail.text)?.[1];
  if (!code || !link) throw new Error(`Not a login mail: ${mail.text}`);
  return { code, link };
}

/** A registry with mail for one test, closed when the test ends; its clock and accounts settings may be swapped. */
export async function mailRegistryFor(
  t: { teardown(fn: () => unknown): void },
  options: { clock?: Clock; accounts?: Partial<AccountsOptions> } = {},
): Promise<MailRegistry> {
  const overrides = { ...(options.clock ? { clock: options.clock } : {}), ...(options.accounts ? { accounts: options.accounts } : {}) };
  const reg = await startRegistryWithMail({ overrides });
  t.teardown(() => reg.close());
  return reg;
}

/** `POST /session/fetch` with `body`, answered as it is. */
export function fetchSession(reg: Reachable, body: Record<string, unknown>): Promise<Response> {
  return call(reg.url, 'POST', '/session/fetch', { body });
}

/** The forms of the page behind a login link: the address each one posts to, by what it does. */
export type LoginPage = { status: number; html: string; confirm: string | null; deny: string | null };

/** Opens a login link as a browser does (GET) and reads the page's two forms. */
export async function openLoginPage(link: string): Promise<LoginPage> {
  const res = await fetch(link, { headers: { 'sec-fetch-site': 'none' } });
  const html = await res.text();
  const actions = [...html.matchAll(/<form method="post" action="([^"]+)"/g)].map((m) => new URL((m[1] as string).replaceAll('&amp;', '&'), link).href);
  const find = (path: string) => actions.find((action) => new URL(action).pathname === path) ?? null;
  return { status: res.status, html, confirm: find('/session/confirm'), deny: find('/session/deny') };
}

/** Presses one of a login page's buttons as a browser does: a POST from the page's own origin. */
export function pressButton(action: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(action, { method: 'POST', headers: { origin: new URL(action).origin, 'sec-fetch-site': 'same-origin', ...headers } });
}

/** Opens the link of a login mail and presses "confirm" (or "deny"), as the person it was sent to does. */
export async function answerLoginLink(link: string, answer: 'confirm' | 'deny' = 'confirm'): Promise<Response> {
  const page = await openLoginPage(link);
  const action = page[answer];
  if (!action) throw new Error(`The login page has no ${answer} button (${page.status}): ${page.html}`);
  return pressButton(action);
}

/** Asks for a login mail: `POST /session`, answering the fetch token. */
export async function requestLogin(reg: Reachable, email: string, headers: Record<string, string> = {}): Promise<string> {
  const { fetchSessionToken } = await expectJson<{ fetchSessionToken: string }>(await call(reg.url, 'POST', '/session', { body: { email }, headers }), 200);
  return fetchSessionToken;
}

/** Logs `email` in through the real mail: asks for a code, reads it from the mail, trades it for a session token. */
export async function loggedIn(reg: Mailing, email: string): Promise<string> {
  const fetchSessionToken = await requestLogin(reg, email);
  const { code } = readLoginMail(await reg.smtp.waitForMail(email));
  const res = await call(reg.url, 'POST', '/session/fetch', { body: { fetchSessionToken, emailConfirmationCode: code } });
  const { sessionToken } = await expectJson<{ sessionToken: string }>(res, 200);
  return sessionToken;
}

/** Creates a publishing identity whose first admin is the owner of `token`. */
export async function createIdentity(reg: Reachable, token: string, name: string): Promise<void> {
  await expectJson(await call(reg.url, 'POST', '/publishing-identity', { token, body: { name } }), 201);
}

/** Adds `email` to `identity` with `role` (or changes its role), as an admin of it. */
export async function addMember(reg: Reachable, adminToken: string, identity: string, email: string, role: Role): Promise<void> {
  const path = `/publishing-identity/${encodeURIComponent(identity)}/members/${encodeURIComponent(email)}`;
  await expectJson(await call(reg.url, 'PUT', path, { token: adminToken, body: { role } }), 200);
}

/** Creates an automation token as the owner of `sessionToken`; answers the token's secret and id. */
export async function createToken(
  reg: Reachable,
  sessionToken: string,
  body: { name?: string; identity: string; role: 'download' | 'publish'; expiresInDays?: number },
): Promise<{ id: string; token: string }> {
  return expectJson(await call(reg.url, 'POST', '/tokens', { token: sessionToken, body: { name: 'ci', ...body } }), 201);
}

/** A clock that stands still until moved: `clock.advance(16 * 60_000)`. Pass it as `overrides.clock`. */
export function movableClock(start: Date = new Date()): { now(): Date; advance(ms: number): void } {
  let time = start.getTime();
  return {
    now: () => new Date(time),
    advance(ms) {
      time += ms;
    },
  };
}
