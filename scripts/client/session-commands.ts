import type { CommandSpec } from './args.ts';
import { CliError } from './cli-error.ts';
import type { Context } from './context.ts';
import { login } from './login.ts';

type SessionInfo = { email: string; identities: Array<{ name: string; role: string }> };

/** Revokes a session the registry gave before, now replaced; a failure only leaves it to expire. */
async function revokeQuietly(context: Context, token: string): Promise<void> {
  try {
    await context.clientWith(token).call('DELETE', '/session');
  } catch {
    // The old session is no longer stored anywhere; it expires on its own.
  }
}

export const loginCommand: CommandSpec<Context> = {
  name: 'login',
  args: ['[EMAIL]'],
  summary: 'Log in by email: type the code from the mail, or confirm on its link’s page.',
  details: [
    'Asks for the address when EMAIL is not given. The registry mails a confirmation code and a link; ' +
      'the login completes as soon as you type the code here or press "Confirm the login" on the page the link opens, ' +
      'whichever comes first. Pressing "Deny it" there ends the login.',
    'The session token is saved in $HOME/.gren/user (mode 0600), one login per registry.',
  ],
  examples: ['gren-registry login robin@example.com', 'gren-registry login --registry https://registry.example.com'],
  async run(context, input) {
    const previous = context.credentials.get(context.registry);
    const { sessionToken } = await login(context, input.positionals[0]);
    const { body } = await context.clientWith(sessionToken).call<SessionInfo>('GET', '/session');
    context.credentials.set(context.registry, { email: body.email, sessionToken });
    if (previous && previous.sessionToken !== sessionToken) await revokeQuietly(context, previous.sessionToken);
    context.out.result({ registry: context.registry, ...body }, () => {
      context.out.say(`Logged in to ${context.registry} as ${body.email}.`);
      context.out.say(`The session is saved in ${context.credentials.file}.`);
    });
  },
};

export const logoutCommand: CommandSpec<Context> = {
  name: 'logout',
  args: [],
  summary: 'Log out: the registry revokes the session, and it is removed from $HOME/.gren/user.',
  async run(context) {
    const saved = context.credentials.get(context.registry);
    if (!saved) {
      context.out.result({ registry: context.registry, loggedOut: false }, () => context.out.say(`You are not logged in to ${context.registry}.`));
      return;
    }
    try {
      await context.clientWith(saved.sessionToken).call('DELETE', '/session');
    } catch (err) {
      if (!(err instanceof CliError) || err.code !== 'unauthorized') throw err;
    }
    context.credentials.remove(context.registry);
    context.out.result({ registry: context.registry, email: saved.email, loggedOut: true }, () =>
      context.out.say(`Logged out ${saved.email} from ${context.registry}.`),
    );
  },
};

export const whoamiCommand: CommandSpec<Context> = {
  name: 'whoami',
  args: [],
  summary: 'Show who you are logged in as, and your publishing identities.',
  async run(context) {
    const { body } = await context.client.call<SessionInfo>('GET', '/session');
    context.out.result({ registry: context.registry, ...body }, () => {
      context.out.say(`${body.email} on ${context.registry}`);
      if (body.identities.length === 0) {
        context.out.say('No publishing identity yet: create one with gren-registry identity create NAME.');
        return;
      }
      const width = Math.max(...body.identities.map((i) => i.name.length));
      for (const identity of body.identities) context.out.say(`  ${identity.name.padEnd(width)}  ${identity.role}`);
    });
  },
};
