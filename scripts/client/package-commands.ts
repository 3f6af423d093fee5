import type { CommandSpec } from './args.ts';
import { packageName, packagePath, requiredOption, version } from './arguments.ts';
import { CliError } from './cli-error.ts';
import type { Context } from './context.ts';

type IndexEntry = {
  version: string;
  'gren-version': string;
  published: string;
  revoked: { at: string; reason: string | null } | null;
};
type PackageIndex = { name: string; versions: IndexEntry[] };

async function confirmed(context: Context, question: string): Promise<boolean> {
  const answer = await context.lines().ask(`${question} [y/N] `);
  return answer !== null && ['y', 'yes'].includes(answer.trim().toLowerCase());
}

export const revokeCommand: CommandSpec<Context> = {
  name: 'revoke',
  args: ['NAME', 'VERSION'],
  summary: 'Revoke a published version: its bundle is deleted and its number can never be published again.',
  details: ['Its metadata stays visible with the reason. Needs the publish role. Asks for confirmation on a terminal unless --yes.'],
  options: {
    reason: { type: 'string', value: 'TEXT', description: 'Why, for the people who depend on it (required).' },
    yes: { type: 'boolean', short: 'y', description: 'Do not ask for confirmation.' },
  },
  examples: ['gren-registry revoke robin/example 1.0.1 --reason "Deletes files it should not"'],
  async run(context, input) {
    const pkg = packageName(input.positionals[0] ?? '');
    const revoked = version(input.positionals[1] ?? '');
    const reason = requiredOption(input.options, 'reason', '"Breaks on Windows"');
    if (!context.client.hasToken) throw new CliError('not_logged_in', `You are not logged in to ${context.registry}.`, { hint: 'Run gren-registry login first.' });
    if (context.interactive && !input.options['yes'] && !(await confirmed(context, `Revoke ${pkg.full} ${revoked}? This cannot be undone.`))) {
      throw new CliError('cancelled', 'Nothing was revoked.');
    }
    const { body } = await context.client.call<IndexEntry>('DELETE', `${packagePath(pkg)}/${revoked}`, { body: { reason } });
    context.out.result(body, () => context.out.say(`Revoked ${pkg.full} ${revoked}${body.revoked ? ` on ${body.revoked.at}` : ''}.`));
  },
};

export const latestCommand: CommandSpec<Context> = {
  name: 'latest',
  args: ['NAME'],
  summary: 'Print the greatest unrevoked version of a package, for a compiler version if given.',
  options: { gren: { type: 'string', value: 'VERSION', description: 'Only versions whose gren-version range holds this compiler version.' } },
  examples: ['gren-registry latest gren-lang/core --gren 0.6.1'],
  async run(context, input) {
    const pkg = packageName(input.positionals[0] ?? '');
    const gren = input.options['gren'];
    const query = typeof gren === 'string' ? `?gren=${encodeURIComponent(version(gren, 'compiler version'))}` : '';
    const { body } = await context.client.call<{ version: string }>('GET', `${packagePath(pkg)}/latest${query}`, { auth: 'optional' });
    context.out.result(body, () => context.out.say(body.version));
  },
};

export const previousCommand: CommandSpec<Context> = {
  name: 'previous',
  args: ['NAME', 'VERSION'],
  summary: 'Print the greatest unrevoked version of a package lower than VERSION.',
  examples: ['gren-registry previous gren-lang/core 7.4.0'],
  async run(context, input) {
    const pkg = packageName(input.positionals[0] ?? '');
    const below = version(input.positionals[1] ?? '');
    const { body } = await context.client.call<{ version: string }>('GET', `${packagePath(pkg)}/previous/${below}`, { auth: 'optional' });
    context.out.result(body, () => context.out.say(body.version));
  },
};

/** The package's index.json: the public one, else the private one when the login allows. */
async function readIndex(context: Context, pkg: ReturnType<typeof packageName>): Promise<PackageIndex> {
  const notFound = (err: unknown) => err instanceof CliError && err.status === 404;
  try {
    return (await context.client.call<PackageIndex>('GET', `/index${packagePath(pkg)}/index.json`, { auth: 'none' })).body;
  } catch (err) {
    if (!notFound(err)) throw err;
  }
  try {
    if (context.client.hasToken) return (await context.client.call<PackageIndex>('GET', `/private${packagePath(pkg)}/index.json`, { auth: 'optional' })).body;
  } catch (err) {
    if (!notFound(err)) throw err;
  }
  throw new CliError('not_found', `There is no package ${pkg.full}${context.client.hasToken ? '' : ' (log in to see private packages)'}.`, { status: 404 });
}

export const versionsCommand: CommandSpec<Context> = {
  name: 'versions',
  args: ['NAME'],
  summary: 'List every version of a package, revoked ones included, oldest first.',
  async run(context, input) {
    const pkg = packageName(input.positionals[0] ?? '');
    const index = await readIndex(context, pkg);
    context.out.result(index, () => {
      context.out.say(index.name);
      const width = Math.max(0, ...index.versions.map((v) => v.version.length));
      for (const entry of index.versions) {
        const state = entry.revoked ? `revoked ${entry.revoked.at.slice(0, 10)}${entry.revoked.reason ? `: ${entry.revoked.reason}` : ''}` : `gren ${entry['gren-version']}`;
        context.out.say(`  ${entry.version.padEnd(width)}  ${entry.published.slice(0, 10)}  ${state}`);
      }
    });
  },
};

export const packageCommands = [revokeCommand, latestCommand, previousCommand, versionsCommand];
