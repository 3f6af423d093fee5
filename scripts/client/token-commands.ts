import type { CommandSpec } from './args.ts';
import { positiveInteger, requiredOption, role } from './arguments.ts';
import type { Context } from './context.ts';
import { day, tableLines } from './table.ts';

export type TokenInfo = {
  id: string;
  name: string;
  identity: string;
  role: string;
  created: string;
  expires: string | null;
  lastUsed: string | null;
  lastAddress: string | null;
  lastUserAgent: string | null;
};

export const tokenCreate: CommandSpec<Context> = {
  name: 'token create',
  args: ['NAME'],
  summary: 'Create a token for automation, acting in one identity with at most one role.',
  details: [
    'The token is shown once. Give it to a script as GREN_REGISTRY_TOKEN; it acts only in the identity, ' +
      "with at most the role given and never more than your own role at the time it is used.",
  ],
  options: {
    identity: { type: 'string', value: 'NAME', description: 'The publishing identity the token acts in (required).' },
    role: { type: 'string', value: 'ROLE', description: 'download or publish (required).' },
    'expires-in-days': { type: 'string', value: 'DAYS', description: 'How long the token lives (default: the registry decides).' },
  },
  examples: ['gren-registry token create ci --identity robin --role publish --expires-in-days 90'],
  async run(context, input) {
    const identity = requiredOption(input.options, 'identity', 'robin');
    const chosen = role(requiredOption(input.options, 'role', 'publish'), ['download', 'publish']);
    const days = input.options['expires-in-days'];
    const request = {
      name: input.positionals[0] ?? '',
      identity,
      role: chosen,
      ...(typeof days === 'string' ? { expiresInDays: positiveInteger(days, 'expires-in-days') } : {}),
    };
    const { body } = await context.client.call<{ id: string; token: string }>('POST', '/tokens', { body: request });
    context.out.result(body, () => {
      context.out.say(`Created the token ${request.name} (id ${body.id}), role ${chosen} in ${identity}:`);
      context.out.say('');
      context.out.say(`  ${body.token}`);
      context.out.say('');
      context.out.say('Store it now: it cannot be shown again. Scripts use it as GREN_REGISTRY_TOKEN.');
    });
  },
};

export const tokenList: CommandSpec<Context> = {
  name: 'token list',
  args: [],
  summary: 'List your tokens (never their secrets).',
  async run(context) {
    const { body } = await context.client.call<TokenInfo[]>('GET', '/tokens');
    context.out.result(body, () => {
      if (body.length === 0) {
        context.out.say('No tokens. Create one with gren-registry token create NAME --identity ID --role ROLE.');
        return;
      }
      const rows = [
        ['ID', 'NAME', 'IDENTITY', 'ROLE', 'CREATED', 'EXPIRES', 'LAST USED', 'FROM'],
        ...body.map((t) => [t.id, t.name, t.identity, t.role, day(t.created), day(t.expires), day(t.lastUsed), t.lastAddress ?? '-']),
      ];
      for (const line of tableLines(rows)) context.out.say(line);
    });
  },
};

export const tokenRevoke: CommandSpec<Context> = {
  name: 'token revoke',
  args: ['ID'],
  summary: 'Revoke a token: it stops working at once.',
  async run(context, input) {
    const id = input.positionals[0] ?? '';
    const { body } = await context.client.call('DELETE', `/tokens/${encodeURIComponent(id.trim())}`);
    context.out.result(body ?? { id, revoked: true }, () => context.out.say(`Revoked the token ${id}.`));
  },
};

export const tokenCommands = [tokenCreate, tokenList, tokenRevoke];
