import type { CommandSpec } from './args.ts';
import { role } from './arguments.ts';
import { CliError } from './cli-error.ts';
import type { Context } from './context.ts';

type Identity = { name: string; members: Array<{ email: string; role: string }> };

function identityPath(name: string, email?: string): string {
  const base = `/publishing-identity/${encodeURIComponent(name.trim())}`;
  return email === undefined ? base : `${base}/members/${encodeURIComponent(email.trim())}`;
}

function arg(input: { positionals: string[] }, index: number): string {
  return input.positionals[index] ?? '';
}

async function setRole(context: Context, name: string, email: string, newRole: string): Promise<unknown> {
  const { body } = await context.client.call('PUT', identityPath(name, email), { body: { role: newRole } });
  return body;
}

export const identityCreate: CommandSpec<Context> = {
  name: 'identity create',
  args: ['NAME'],
  summary: 'Create a publishing identity; you become its first admin.',
  details: ['Packages NAME/* belong to the identity NAME. A name has 1 to 39 letters, digits and single dashes.'],
  examples: ['gren-registry identity create robin'],
  async run(context, input) {
    const { body } = await context.client.call<{ name: string }>('POST', '/publishing-identity', { body: { name: arg(input, 0).trim() } });
    context.out.result(body, () => context.out.say(`Created the publishing identity ${body.name}; you are its admin.`));
  },
};

export const identityShow: CommandSpec<Context> = {
  name: 'identity show',
  args: ['NAME'],
  summary: 'Show the members of a publishing identity and their roles (members only).',
  async run(context, input) {
    const { body } = await context.client.call<Identity>('GET', identityPath(arg(input, 0)));
    context.out.result(body, () => {
      context.out.say(body.name);
      const width = Math.max(0, ...body.members.map((m) => m.email.length));
      for (const member of body.members) context.out.say(`  ${member.email.padEnd(width)}  ${member.role}`);
    });
  },
};

export const identityAdd: CommandSpec<Context> = {
  name: 'identity add',
  args: ['NAME', 'EMAIL'],
  summary: 'Add a member to a publishing identity (admins only).',
  details: ['The address need not have logged in yet: it gets access once it does. Roles: download < publish < admin.'],
  options: { role: { type: 'string', value: 'ROLE', description: 'download, publish or admin (default: publish).' } },
  examples: ['gren-registry identity add robin kim@example.com --role publish'],
  async run(context, input) {
    const chosen = role(typeof input.options['role'] === 'string' ? input.options['role'] : 'publish');
    const [name, email] = [arg(input, 0), arg(input, 1)];
    const body = await setRole(context, name, email, chosen);
    context.out.result(body ?? { name, email, role: chosen }, () => context.out.say(`${email} is now a member of ${name} with the role ${chosen}.`));
  },
};

export const identityRole: CommandSpec<Context> = {
  name: 'identity role',
  args: ['NAME', 'EMAIL', 'ROLE'],
  summary: "Change a member's role in a publishing identity (admins only).",
  details: ['Only changes the role of an existing member; use identity add for someone new. Roles: download < publish < admin.'],
  async run(context, input) {
    const [name, email, wanted] = [arg(input, 0), arg(input, 1), role(arg(input, 2))];
    const { body: identity } = await context.client.call<Identity>('GET', identityPath(name));
    const member = identity.members.find((m) => m.email.toLowerCase() === email.trim().toLowerCase());
    if (!member) {
      throw new CliError('not_a_member', `${email} is not a member of ${identity.name}.`, { hint: `Add them with gren-registry identity add ${identity.name} ${email} --role ${wanted}.` });
    }
    const body = await setRole(context, name, email, wanted);
    context.out.result(body ?? { name, email, role: wanted }, () => context.out.say(`${member.email} now has the role ${wanted} in ${identity.name} (was ${member.role}).`));
  },
};

export const identityRemove: CommandSpec<Context> = {
  name: 'identity remove',
  args: ['NAME', 'EMAIL'],
  summary: 'Remove a member from a publishing identity (admins, or a member removing itself).',
  async run(context, input) {
    const [name, email] = [arg(input, 0), arg(input, 1)];
    const { body } = await context.client.call('DELETE', identityPath(name, email));
    context.out.result(body ?? { name, email, removed: true }, () => context.out.say(`${email} is no longer a member of ${name}.`));
  },
};

export const identityCommands = [identityCreate, identityShow, identityAdd, identityRole, identityRemove];
