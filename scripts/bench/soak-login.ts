import { call, openLoginPage, pressButton } from '../../test/helpers/accounts.ts';
import type { LoginOutbox } from './login-outbox.ts';
import { expectStatus, Unexpected } from './soak-tally.ts';

export type LoginContext = {
  url: string;
  outbox: LoginOutbox;
  /** The admin of the soak's publishing identities: logs in too, and meets its mailbox's limit. */
  adminEmail: string;
  identity: string;
};

/**
 * Logins as people make them, each from an address of its own (the registry trusts one proxy
 * hop, so X-Forwarded-For names the client): mostly new users, sometimes the admin, whose
 * mailbox soon meets its limit (429, expected). Each login is completed by the mailed code or by
 * the link's page, used (who am I, the sessions list; the admin also makes and revokes a
 * token), then logged out by one of the two ways, after which its token must be refused.
 */
export function createLogins(ctx: LoginContext) {
  let users = 0;
  let clients = 0;
  let adminBusy = false;

  const address = () => {
    const n = clients++;
    return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
  };

  return async function login(): Promise<void> {
    const asAdmin = !adminBusy && Math.random() < 0.15;
    // One admin login at a time, so that each reads its own mail.
    if (asAdmin) adminBusy = true;
    try {
      const email = asAdmin ? ctx.adminEmail : `soak-user-${users++}@example.com`;
      const headers = { 'x-forwarded-for': address(), 'user-agent': 'gren-soak' };
      const token = await logIn(ctx, email, headers);
      await useSession(ctx, token, headers, asAdmin);
    } finally {
      if (asAdmin) adminBusy = false;
    }
  };
}

/** Logs `email` in, by the mailed code or by the link's page (half each); answers the session token. */
export async function logIn(ctx: LoginContext, email: string, headers: Record<string, string>): Promise<string> {
  const asked = await expectStatus(await call(ctx.url, 'POST', '/session', { body: { email }, headers }), [200], 'POST /session');
  const { fetchSessionToken } = (await asked.json()) as { fetchSessionToken: string };
  const mail = await ctx.outbox.waitFor(email, 30_000).catch((err: Error) => {
    throw new Unexpected('login mail', err.message);
  });
  if (Math.random() < 0.5) {
    const res = await call(ctx.url, 'POST', '/session/fetch', { body: { fetchSessionToken, emailConfirmationCode: mail.code }, headers });
    return ((await (await expectStatus(res, [200], 'POST /session/fetch with the code')).json()) as { sessionToken: string }).sessionToken;
  }
  // The link's way: a fetch held open while the page is opened and its button pressed.
  const held = call(ctx.url, 'POST', '/session/fetch', { body: { fetchSessionToken }, headers });
  const page = await openLoginPage(mail.link);
  if (page.status !== 200 || !page.confirm) throw new Unexpected(`GET /session/confirm ${page.status}`, page.html);
  await expectStatus(await pressButton(page.confirm), [200], 'POST /session/confirm');
  return ((await (await expectStatus(await held, [200], 'POST /session/fetch held')).json()) as { sessionToken: string }).sessionToken;
}

async function useSession(ctx: LoginContext, token: string, headers: Record<string, string>, asAdmin: boolean): Promise<void> {
  /** One call with the session; `shape` names the route in a failure, without its id. */
  const ok = async (method: string, path: string, options: { status?: number; body?: unknown; shape?: string } = {}) => {
    const res = await call(ctx.url, method, path, { token, headers, ...(options.body === undefined ? {} : { body: options.body }) });
    return expectStatus(res, [options.status ?? 200], `${method} ${options.shape ?? path}`);
  };
  await (await ok('GET', '/session')).arrayBuffer();
  const sessions = (await (await ok('GET', '/sessions')).json()) as Array<{ id: string; current: boolean }>;
  const current = sessions.find((s) => s.current);
  if (!current) throw new Unexpected('GET /sessions', 'no session marked current');
  if (asAdmin) {
    const body = { name: 'soak', identity: ctx.identity, role: 'download', expiresInDays: 1 };
    const created = (await (await ok('POST', '/tokens', { status: 201, body })).json()) as { id: string };
    await (await ok('GET', '/tokens')).arrayBuffer();
    await (await ok('DELETE', `/tokens/${created.id}`, { shape: '/tokens/<id>' })).arrayBuffer();
  }
  const logOut = Math.random() < 0.5 ? ok('DELETE', '/session') : ok('DELETE', `/sessions/${current.id}`, { shape: '/sessions/<id>' });
  await (await logOut).arrayBuffer();
  // Logged out: the token is refused from now on.
  await (await ok('GET', '/session', { status: 401, shape: '/session after logging out' })).arrayBuffer();
}
