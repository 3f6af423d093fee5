import type { CommandSpec } from './args.ts';
import { identityName, version } from './arguments.ts';
import { CliError } from './cli-error.ts';
import type { Context } from './context.ts';
import { packagesBase, rewriteIdentity, type GitSetting } from './git-settings.ts';
import { shellQuote } from './shell-quote.ts';

type ListedPackage = { name: string };
type SessionInfo = { identities: Array<{ name: string }> };

/** The identities to set up: those named, else every author the registry lists packages of, and the user's own. */
async function identitiesToSetUp(context: Context, named: string[]): Promise<string[]> {
  if (named.length > 0) return [...new Set(named.map(identityName))];
  const { body: listed } = await context.client.call<ListedPackage[]>('GET', '/packages', { auth: 'none' });
  const found = new Set(listed.map((pkg) => pkg.name.split('/')[0] ?? ''));
  if (context.token !== null) {
    const { body: session } = await context.client.call<SessionInfo>('GET', '/session');
    for (const identity of session.identities) found.add(identity.name);
  }
  found.delete('');
  if (found.size === 0) {
    throw new CliError('no_identities', `${context.registry} lists no package yet, and you are a member of no publishing identity there.`, {
      hint: 'Name the identities to set up: gren-registry git-config gren-lang',
    });
  }
  return [...found].sort();
}

/** `git config --global` of one setting, as a line a shell runs. */
function configLine(setting: GitSetting, how: '--replace-all' | '--add'): string {
  return ['git', 'config', '--global', how, shellQuote(setting.key), shellQuote(setting.value)].join(' ');
}

/**
 * The credential helper lines: first an empty helper, which drops any helper set before for
 * this URL (a `store` helper would otherwise write the token to ~/.git-credentials in plain
 * text), then this client, started by absolute paths so that it works whatever the PATH.
 */
function credentialLines(context: Context): string[] {
  const key = `credential.${context.registry}.helper`;
  const helper = `!${[...context.self, 'git-credential', '--registry', context.registry].map(shellQuote).join(' ')}`;
  return [configLine({ key, value: '' }, '--replace-all'), configLine({ key, value: helper }, '--add')];
}

export const gitConfigCommand: CommandSpec<Context> = {
  name: 'git-config',
  args: ['[IDENTITY...]'],
  summary: "Print the git config lines that make today's gren fetch packages from the registry for good.",
  details: [
    'One line per publishing identity, so that other GitHub repositories keep coming from GitHub; by default every ' +
      'identity the registry lists packages of, and your own. Then the lines that let git ask gren-registry for your ' +
      'login when a private package needs it (git-credential), so that no token is written to a git config file. ' +
      'Run the lines, or pipe them to sh. Run it again after new identities publish.',
    'These settings last beyond any one compiler, so they use the view that offers every version of a package; ' +
      'gren package install NAME then takes the highest version, as it does from GitHub. gren-registry exec picks the ' +
      'compiler\'s own view each time; --gren-version pins one here (run it again when you change compilers).',
  ],
  options: {
    'gren-version': { type: 'string', value: 'VERSION', description: 'Offer only the versions this compiler version accepts.' },
  },
  examples: ['gren-registry git-config | sh', 'gren-registry git-config gren-lang blaix'],
  async run(context, input) {
    const given = input.options['gren-version'];
    const grenVersion = typeof given === 'string' ? version(given, 'compiler version') : null;
    const identities = await identitiesToSetUp(context, input.positionals);
    const rewrites = identities.map((identity) => configLine(rewriteIdentity(context.registry, identity, grenVersion), '--replace-all'));
    const credentials = credentialLines(context);
    const base = packagesBase(context.registry, grenVersion);
    context.out.result({ registry: context.registry, base, identities, commands: [...rewrites, ...credentials] }, () => {
      context.out.say(`# Packages of ${identities.join(', ')} come from ${base}`);
      for (const line of rewrites) context.out.say(line);
      context.out.say('# For private packages, git asks gren-registry for your login (gren-registry login)');
      for (const line of credentials) context.out.say(line);
    });
  },
};
