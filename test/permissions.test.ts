import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { openAccounts, type Accounts } from '../gateway/accounts/accounts.ts';
import { createPermissions, type Permissions, type Principal, type Role } from '../gateway/permissions.ts';
import { ApiError } from '../gateway/errors.ts';
import { memoryLogger } from '../gateway/log.ts';
import { systemClock } from '../gateway/clock.ts';
import { tempDir } from './helpers/registry.ts';
import { fetchClient } from './helpers/accounts.ts';

type World = { accounts: Accounts; permissions: Permissions; sessionOf(email: string): Principal; tokenOf(email: string, identity: string, role: 'download' | 'publish'): Principal };

function world(t: import('ava').ExecutionContext): World {
  const dir = tempDir();
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const accounts = openAccounts({ file: path.join(dir, 'accounts.sqlite'), clock: systemClock, log: memoryLogger() });
  t.teardown(() => accounts.close());
  const permissions = createPermissions({ accounts });
  return {
    accounts,
    permissions,
    sessionOf(email) {
      const { token } = accounts.sessions.create(accounts.users.ensure(email).id, fetchClient);
      return accounts.authenticate(token, fetchClient)!;
    },
    tokenOf(email, identity, role) {
      const { token } = accounts.tokens.create({ userId: accounts.users.ensure(email).id, name: 'ci', identity: accounts.identities.find(identity)!, role, expires: null });
      return accounts.authenticate(token, fetchClient)!;
    },
  };
}

/** null when allowed, else the catalog code thrown. */
function outcome(permissions: Permissions, action: Role, principal: Principal | null, identity: string): string | null {
  try {
    permissions[action](principal, identity);
    return null;
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    return `${err.status} ${err.code}`;
  }
}

const actions: Role[] = ['download', 'publish', 'admin'];
const rank = { none: 0, download: 1, publish: 2, admin: 3 } as const;

test('sessions: each role allows its actions and those below, 403 above', (t) => {
  const w = world(t);
  w.accounts.identities.create('gren-lang', 'owner@example.com');
  for (const role of ['none', 'download', 'publish', 'admin'] as const) {
    const email = `${role}@example.com`;
    if (role !== 'none') t.is(w.accounts.identities.setMember(w.accounts.identities.find('gren-lang')!, email, role), null);
    const principal = w.sessionOf(email);
    t.is(w.permissions.roleIn(principal, 'gren-lang'), role === 'none' ? null : role);
    for (const action of actions) {
      const expected = rank[role] >= rank[action] ? null : '403 forbidden';
      t.is(outcome(w.permissions, action, principal, 'GREN-LANG'), expected, `${role} → ${action}`);
    }
  }
});

test('tokens: the effective role is the lower of the token’s and its creator’s current role', (t) => {
  const w = world(t);
  const identity = w.accounts.identities.create('gren-lang', 'owner@example.com')!;
  for (const creatorRole of ['download', 'publish', 'admin'] as const) {
    for (const tokenRole of ['download', 'publish'] as const) {
      const email = `${creatorRole}-${tokenRole}@example.com`;
      w.accounts.identities.setMember(identity, email, creatorRole);
      const principal = w.tokenOf(email, 'gren-lang', tokenRole);
      const effective = rank[creatorRole] < rank[tokenRole] ? creatorRole : tokenRole;
      t.is(w.permissions.roleIn(principal, 'gren-lang'), effective, `${creatorRole} creator, ${tokenRole} token`);
      for (const action of actions) {
        t.is(outcome(w.permissions, action, principal, 'gren-lang'), rank[effective] >= rank[action] ? null : '403 forbidden');
      }
    }
  }
});

test('the cap is read at each use: demotion and removal weaken a token already handed out', (t) => {
  const w = world(t);
  const identity = w.accounts.identities.create('gren-lang', 'owner@example.com')!;
  w.accounts.identities.setMember(identity, 'ci@example.com', 'publish');
  const principal = w.tokenOf('ci@example.com', 'gren-lang', 'publish');
  t.is(outcome(w.permissions, 'publish', principal, 'gren-lang'), null);
  w.accounts.identities.setMember(identity, 'ci@example.com', 'download');
  t.is(outcome(w.permissions, 'publish', principal, 'gren-lang'), '403 forbidden');
  t.is(outcome(w.permissions, 'download', principal, 'gren-lang'), null);
  w.accounts.identities.removeMember(identity, 'ci@example.com');
  t.is(outcome(w.permissions, 'download', principal, 'gren-lang'), '403 forbidden');
  t.is(w.permissions.roleIn(principal, 'gren-lang'), null);
});

test('a token acts in no identity but its own', (t) => {
  const w = world(t);
  w.accounts.identities.create('gren-lang', 'robin@example.com');
  w.accounts.identities.create('other', 'robin@example.com');
  const principal = w.tokenOf('robin@example.com', 'gren-lang', 'publish');
  t.is(w.permissions.roleIn(principal, 'other'), null);
  t.is(outcome(w.permissions, 'download', principal, 'other'), '403 forbidden');
  t.is(w.permissions.roleIn(w.sessionOf('robin@example.com'), 'other'), 'admin');
});

test('401 without a principal (before anything else), 404 for an identity that does not exist', (t) => {
  const w = world(t);
  w.accounts.identities.create('gren-lang', 'robin@example.com');
  const robin = w.sessionOf('robin@example.com');
  for (const action of actions) {
    t.is(outcome(w.permissions, action, null, 'gren-lang'), '401 unauthorized');
    t.is(outcome(w.permissions, action, null, 'nobody'), '401 unauthorized');
    t.is(outcome(w.permissions, action, robin, 'nobody'), '404 not_found');
  }
  t.is(w.permissions.roleIn(null, 'gren-lang'), null);
  t.is(w.permissions.roleIn(robin, 'nobody'), null);
});

test('the refusal names the identity and the role needed', (t) => {
  const w = world(t);
  w.accounts.identities.create('Gren-Lang', 'robin@example.com');
  const error = t.throws(() => w.permissions.publish(w.sessionOf('kim@example.com'), 'gren-lang'), { instanceOf: ApiError });
  t.regex(error.message, /"Gren-Lang"/);
  t.regex(error.message, /publish role/);
});

test('the member list: sessions of members read it; tokens never, whatever their role', (t) => {
  const w = world(t);
  const identity = w.accounts.identities.create('gren-lang', 'robin@example.com')!;
  w.accounts.identities.setMember(identity, 'kim@example.com', 'download');
  const read = (principal: Principal | null, name = 'gren-lang') => {
    try {
      w.permissions.readMembers(principal, name);
      return null;
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      return `${err.status} ${err.code}`;
    }
  };
  t.is(read(w.sessionOf('kim@example.com')), null);
  t.is(read(w.sessionOf('robin@example.com')), null);
  t.is(read(w.sessionOf('lee@example.com')), '403 forbidden');
  t.is(read(w.sessionOf('kim@example.com'), 'nobody'), '404 not_found');
  t.is(read(null), '401 unauthorized');
  t.is(read(w.tokenOf('robin@example.com', 'gren-lang', 'publish')), '403 forbidden');
  t.is(read(w.tokenOf('kim@example.com', 'gren-lang', 'download')), '403 forbidden');
});
