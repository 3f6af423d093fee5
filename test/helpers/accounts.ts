import type { RegistryOverrides } from '../../gateway/registry.ts';
import type { Role } from '../../gateway/permissions.ts';
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

/** The code and the link of a login mail, read from its text as a person would. */
export function readLoginMail(mail: ReceivedMail): { code: string; link: string } {
  const code = /^Your confirmation code is: (\S+)\s*$/m.exec(mail.text)?.[1];
  const link = /^Or confirm by opening: (\S+)\s*$/m.exec(mail.text)?.[1];
  if (!code || !link) throw new Error(`Not a login mail: ${mail.text}`);
  return { code, link };
}

/** Asks for a login mail: `POST /session`, answering the fetch token. */
export async function requestLogin(reg: Reachable, email: string): Promise<string> {
  const { fetchSessionToken } = await expectJson<{ fetchSessionToken: string }>(await call(reg.url, 'POST', '/session', { body: { email } }), 200);
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
