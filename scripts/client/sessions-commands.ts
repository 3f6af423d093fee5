import type { CommandSpec } from './args.ts';
import { CliError, usageError } from './cli-error.ts';
import type { Context } from './context.ts';
import type { TokenInfo } from './token-commands.ts';
import { minute, tableLines } from './table.ts';

type SessionInfo = {
  id: string;
  current: boolean;
  created: string;
  lastUsed: string;
  lastAddress: string | null;
  lastUserAgent: string | null;
  expires: string;
};

/** Session ids are whole numbers; anything else names a token. */
const isSessionId = (id: string) => /^\d+$/.test(id);

export const sessionsList: CommandSpec<Context> = {
  name: 'sessions',
  args: [],
  summary: 'List your sessions (logins) and tokens: when and where each was last used.',
  details: [
    'Where is the client address and the program (user agent) of the last use. A session ends after 30 days ' +
      'unused and 90 days at most (the registry may set other lifetimes); the current one is marked *. ' +
      'Log one out, or revoke a token, with gren-registry sessions revoke ID.',
  ],
  examples: ['gren-registry sessions', 'gren-registry sessions --json'],
  async run(context) {
    const [sessions, tokens] = await Promise.all([
      context.client.call<SessionInfo[]>('GET', '/sessions'),
      context.client.call<TokenInfo[]>('GET', '/tokens'),
    ]);
    context.out.result({ sessions: sessions.body, tokens: tokens.body }, () => {
      context.out.say('Sessions:');
      const sessionRows = sessions.body.map((s) => [`${s.id}${s.current ? ' *' : ''}`, minute(s.created), minute(s.lastUsed), s.lastAddress ?? '-', s.lastUserAgent || '-', minute(s.expires)]);
      for (const line of tableLines([['ID', 'LOGGED IN', 'LAST USED', 'FROM', 'PROGRAM', 'ENDS UNUSED'], ...sessionRows])) context.out.say(`  ${line}`);
      context.out.say('');
      if (tokens.body.length === 0) {
        context.out.say('Tokens: none.');
        return;
      }
      context.out.say('Tokens:');
      const tokenRows = tokens.body.map((t) => [t.id, t.name, `${t.role} in ${t.identity}`, minute(t.lastUsed), t.lastAddress ?? '-', t.lastUserAgent || '-']);
      for (const line of tableLines([['ID', 'NAME', 'ROLE', 'LAST USED', 'FROM', 'PROGRAM'], ...tokenRows])) context.out.say(`  ${line}`);
    });
  },
};

export const sessionsRevoke: CommandSpec<Context> = {
  name: 'sessions revoke',
  args: ['ID'],
  summary: 'Log out one of your sessions, or revoke one of your tokens, by its ID.',
  details: ['The IDs are those gren-registry sessions lists. Revoking the current session logs this computer out.'],
  examples: ['gren-registry sessions revoke 42', 'gren-registry sessions revoke 3f1c2a9e-6b0d-4c55-9a47-0e2b8d1f7c60'],
  async run(context, input) {
    const id = (input.positionals[0] ?? '').trim();
    if (id === '') throw usageError('gren-registry sessions revoke needs the ID of a session or token.', 'Run gren-registry sessions to see them.');
    const kind = isSessionId(id) ? 'session' : 'token';
    await context.client.call('DELETE', `/${kind === 'session' ? 'sessions' : 'tokens'}/${encodeURIComponent(id)}`);
    const loggedOut = kind === 'session' && (await savedSessionEnded(context));
    context.out.result({ id, kind, revoked: true, loggedOut }, () => {
      context.out.say(kind === 'session' ? `Logged out the session ${id}.` : `Revoked the token ${id}.`);
      if (loggedOut) context.out.say(`That was this computer's session: you are now logged out of ${context.registry}.`);
    });
  },
};

/** After a session was logged out: whether it was the saved one, which is then forgotten. */
async function savedSessionEnded(context: Context): Promise<boolean> {
  const saved = context.tokenSource === 'login' ? context.credentials.get(context.registry) : null;
  if (!saved) return false;
  try {
    await context.clientWith(saved.sessionToken).call('GET', '/session');
    return false;
  } catch (err) {
    if (!(err instanceof CliError) || err.code !== 'unauthorized') throw err;
    context.credentials.remove(context.registry);
    return true;
  }
}

export const sessionsCommands = [sessionsList, sessionsRevoke];
