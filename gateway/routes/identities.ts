import Router from '@koa/router';
import type Koa from 'koa';
import type { AppDeps } from '../app.ts';
import type { Role } from '../permissions.ts';
import { readJson } from '../body.ts';
import { fail } from '../errors.ts';
import { principalFromToken, principalOf, requirePrincipal } from '../authenticate.ts';
import { clientOf } from '../client-address.ts';
import { isIdentityName } from '../accounts/identity-name.ts';
import { normaliseEmail } from '../accounts/email.ts';
import type { Identity, MembershipRefusal } from '../accounts/identities.ts';

/** Publishing identities and their members (docs/protocol.md, Publishing identities). */
export function identityRoutes(deps: AppDeps): Router {
  const router = new Router();
  router.post('/publishing-identity', (ctx) => createIdentity(deps, ctx));
  router.get('/publishing-identity/:name', (ctx) => showIdentity(deps, ctx));
  router.put('/publishing-identity/:name/members/:email', (ctx) => setMember(deps, ctx));
  router.delete('/publishing-identity/:name/members/:email', (ctx) => removeMember(deps, ctx));
  return router;
}

async function createIdentity(deps: AppDeps, ctx: Koa.Context) {
  const body = await readJson(ctx);
  // The `session` body field is the older clients' way to send the session token.
  const principal = principalOf(ctx) ?? (typeof body.session === 'string' ? principalFromToken(deps, body.session, clientOf(ctx)) : null);
  if (!principal) throw fail('unauthorized', 'Log in first: send "Authorization: Bearer <token>".');
  if (principal.via !== 'session') throw fail('forbidden', 'Automation tokens cannot create publishing identities; use a session (log in).');
  const name = body.name;
  if (!isIdentityName(name)) {
    throw fail('invalid_name', 'name must be 1 to 39 ASCII letters, digits and single dashes, not starting or ending with a dash.');
  }
  const identity = deps.accounts.identities.create(name, principal.email);
  if (!identity) throw fail('identity_exists', `A publishing identity named "${name}" exists already (names are unique whatever their case).`);
  deps.log.info('identity_created', { identity: identity.name, by: principal.userId });
  ctx.status = 201;
  ctx.body = { name: identity.name };
}

function showIdentity(deps: AppDeps, ctx: Koa.Context) {
  const name = String(ctx.params.name);
  deps.permissions.readMembers(principalOf(ctx), name);
  const identity = findIdentity(deps, name);
  ctx.body = { name: identity.name, members: deps.accounts.identities.members(identity) };
}

async function setMember(deps: AppDeps, ctx: Koa.Context) {
  const name = String(ctx.params.name);
  deps.permissions.admin(principalOf(ctx), name);
  const identity = findIdentity(deps, name);
  const email = readEmailParam(ctx);
  const role = readRole(await readJson(ctx));
  refuse(deps.accounts.identities.setMember(identity, email, role), identity, email);
  deps.log.info('member_set', { identity: identity.name, role });
  ctx.body = { email, role };
}

/** Admins remove anyone; any member may remove itself (with a session). Never the last admin. */
function removeMember(deps: AppDeps, ctx: Koa.Context) {
  const name = String(ctx.params.name);
  const principal = requirePrincipal(ctx);
  const email = readEmailParam(ctx);
  const leaving = principal.via === 'session' && principal.email === email;
  if (!leaving) deps.permissions.admin(principal, name);
  const identity = findIdentity(deps, name);
  refuse(deps.accounts.identities.removeMember(identity, email), identity, email);
  deps.log.info('member_removed', { identity: identity.name, leaving });
  ctx.body = {};
}

function findIdentity(deps: AppDeps, name: string): Identity {
  const identity = deps.accounts.identities.find(name);
  if (!identity) throw fail('not_found', `There is no publishing identity named "${name}".`);
  return identity;
}

function refuse(refusal: MembershipRefusal | null, identity: Identity, email: string): void {
  if (refusal === 'last_admin') {
    throw fail('last_admin', `${email} is the last admin of "${identity.name}"; make another member admin first.`);
  }
  if (refusal === 'not_member') throw fail('not_found', `${email} is not a member of "${identity.name}".`);
}

function readEmailParam(ctx: Koa.Context): string {
  const email = normaliseEmail(String(ctx.params.email));
  if (!email) throw fail('invalid_request', 'The member in the path must be an email address.');
  return email;
}

function readRole(body: Record<string, unknown>): Role {
  const role = body.role;
  if (role !== 'download' && role !== 'publish' && role !== 'admin') {
    throw fail('invalid_request', 'role must be "download", "publish" or "admin".');
  }
  return role;
}
