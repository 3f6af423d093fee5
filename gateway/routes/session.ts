import Router from '@koa/router';
import type Koa from 'koa';
import type { AppDeps } from '../app.ts';
import { readJson } from '../body.ts';
import { fail } from '../errors.ts';
import { requirePrincipal } from '../authenticate.ts';
import { clientOf } from '../client-address.ts';
import { normaliseEmail } from '../accounts/email.ts';
import { normaliseCode } from '../accounts/secrets.ts';
import type { LoginOutcome, LoginRefusal } from '../accounts/login-requests.ts';

/** Login by mailed code or link (docs/protocol.md, Login and sessions): ask, fetch; who am I; log out. The link's page is login-link.ts. */
export function sessionRoutes(deps: AppDeps): Router {
  const router = new Router();
  router.post('/session', (ctx) => requestLogin(deps, ctx));
  router.post('/session/fetch', (ctx) => fetchSession(deps, ctx));
  router.get('/session', (ctx) => whoAmI(deps, ctx));
  router.delete('/session', (ctx) => logOut(deps, ctx));
  return router;
}

async function requestLogin(deps: AppDeps, ctx: Koa.Context) {
  const email = readEmail(await readJson(ctx));
  const release = deps.accounts.limits.loginMail(email, clientOf(ctx).address);
  const login = deps.accounts.logins.start(email, clientOf(ctx));
  try {
    // The secret goes in the query, which the request log never records.
    const link = `${deps.config.registryUrl}/session/confirm?secret=${login.linkSecret}`;
    await deps.mailer.sendLogin({ to: email, code: login.code, link, validMinutes: Math.round(deps.accounts.settings.codeLifetimeMs / 60_000) });
  } catch (err) {
    deps.accounts.logins.discard(login.id);
    release();
    throw err;
  }
  deps.log.info('login_requested', { login: login.id });
  ctx.body = { fetchSessionToken: login.fetchToken };
}

async function fetchSession(deps: AppDeps, ctx: Koa.Context) {
  deps.accounts.limits.fetch(clientOf(ctx).address);
  const body = await readJson(ctx);
  const fetchToken = body.fetchSessionToken;
  if (typeof fetchToken !== 'string' || fetchToken === '') {
    throw fail('invalid_request', 'Send the fetchSessionToken that POST /session answered.');
  }
  const code = readCode(body.emailConfirmationCode);
  const outcome = code === null ? await collectWhenConfirmed(deps, ctx, fetchToken) : deps.accounts.logins.redeemCode(fetchToken, code, clientOf(ctx));
  answerLogin(deps, ctx, outcome);
}

/** Without a code: a session once the link's page confirmed the login, waiting for it up to the link-wait time. */
async function collectWhenConfirmed(deps: AppDeps, ctx: Koa.Context, fetchToken: string): Promise<LoginOutcome> {
  const first = deps.accounts.logins.collect(fetchToken, clientOf(ctx));
  if (first.kind !== 'pending') return first;
  const gone = new AbortController();
  const onClose = () => gone.abort();
  ctx.res.once('close', onClose);
  try {
    await deps.accounts.waitForConfirmation(first.requestId, deps.accounts.settings.linkWaitMs, gone.signal);
  } finally {
    ctx.res.off('close', onClose);
  }
  // Released because the registry is closing: let the connection go too, rather than keep it alive.
  if (deps.accounts.stopping) ctx.set('Connection', 'close');
  return deps.accounts.logins.collect(fetchToken, clientOf(ctx));
}

function answerLogin(deps: AppDeps, ctx: Koa.Context, outcome: LoginOutcome) {
  switch (outcome.kind) {
    case 'session':
      deps.log.info('login_confirmed', { login: outcome.requestId });
      ctx.body = { sessionToken: outcome.token };
      return;
    case 'pending':
      ctx.status = 202;
      ctx.body = { status: 'pending' };
      return;
    case 'refused':
      deps.log.warn('login_refused', { reason: outcome.reason, triesLeft: outcome.triesLeft });
      throw fail(outcome.reason === 'denied' ? 'login_denied' : 'invalid_code', refusalMessage(outcome.reason, outcome.triesLeft, deps.accounts.settings.codeLifetimeMs));
  }
}

function refusalMessage(reason: LoginRefusal, triesLeft: number, lifetimeMs: number): string {
  switch (reason) {
    case 'wrong':
      return `The confirmation code is wrong; ${triesLeft} ${triesLeft === 1 ? 'try' : 'tries'} left.`;
    case 'dead':
      return 'Too many wrong confirmation codes: this login is closed; ask for a new code.';
    case 'expired':
      return `The confirmation code has expired (codes work for ${Math.round(lifetimeMs / 60_000)} minutes); ask for a new one.`;
    case 'used':
      return 'This login has been completed already; ask for a new code to log in again.';
    case 'unknown':
      return 'The fetchSessionToken is unknown or too old; ask for a new code.';
    case 'denied':
      return 'This login was denied from the link in the mail; ask for a new code to log in.';
  }
}

function whoAmI(deps: AppDeps, ctx: Koa.Context) {
  const principal = requirePrincipal(ctx);
  if (principal.via === 'session') {
    ctx.body = { email: principal.email, identities: deps.accounts.identities.of(principal.email) };
    return;
  }
  const role = deps.permissions.roleIn(principal, principal.identity);
  ctx.body = { email: principal.email, identities: role ? [{ name: principal.identity, role }] : [] };
}

function logOut(deps: AppDeps, ctx: Koa.Context) {
  const principal = requirePrincipal(ctx);
  if (principal.via === 'session') deps.accounts.sessions.revoke(principal.sessionId);
  else deps.accounts.tokens.revoke(principal.userId, principal.tokenId);
  deps.log.info('logged_out', principal.via === 'session' ? { session: principal.sessionId } : { token: principal.tokenId });
  ctx.body = {};
}

function readEmail(body: Record<string, unknown>): string {
  if (typeof body.email !== 'string') throw fail('invalid_request', 'Send {"email": "you@example.com"}.');
  const email = normaliseEmail(body.email);
  if (!email) throw fail('invalid_request', 'The email is not a valid address.');
  return email;
}

/** The typed code, or null when none was sent (the link way). */
function readCode(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || normaliseCode(value) === '') {
    throw fail('invalid_request', 'emailConfirmationCode must be the 8-character code from the mail.');
  }
  return value;
}
