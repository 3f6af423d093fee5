import type { CommandSpec } from './args.ts';
import type { Context } from './context.ts';

/**
 * A git credential helper (git's credential helper protocol, `git help credential`): git runs
 * it with `get`, `store` or `erase` and writes `key=value` lines on its stdin, ended by a blank
 * line or the end of input. For `get` of a URL of this registry it answers the saved login's
 * session token (or GREN_REGISTRY_TOKEN) as the password, which the registry takes as HTTP
 * Basic; `store` and `erase` are ignored, since the token lives in the client's own store and
 * no other. Whatever else it is asked, it answers nothing, and git goes on as without it.
 */

/** The `key=value` lines of a request, up to the blank line that ends it. */
async function readRequest(context: Context): Promise<Map<string, string>> {
  const request = new Map<string, string>();
  for (;;) {
    const line = await context.lines().next();
    if (line === null || line === '') return request;
    const equals = line.indexOf('=');
    if (equals > 0) request.set(line.slice(0, equals), line.slice(equals + 1));
  }
}

/** Whether git asks for a URL of this registry: same protocol and host, and under its path when git says the path. */
export function isRegistryRequest(registry: string, request: Map<string, string>): boolean {
  const base = new URL(registry);
  const protocol = request.get('protocol');
  const host = request.get('host');
  if (protocol === undefined || host === undefined) return false;
  let asked: URL;
  try {
    asked = new URL(`${protocol}://${host}/${request.get('path') ?? ''}`);
  } catch {
    return false;
  }
  if (asked.protocol !== base.protocol || asked.host !== base.host) return false;
  const prefix = base.pathname.replace(/\/*$/, '/');
  return !request.has('path') || `${asked.pathname.replace(/\/*$/, '')}/`.startsWith(prefix);
}

export const gitCredentialCommand: CommandSpec<Context> = {
  name: 'git-credential',
  args: ['[ACTION]'],
  summary: 'The git credential helper that lends git your login for private packages (git runs it; see git-config).',
  details: [
    'git runs it as "gren-registry git-credential --registry URL get" and writes the request on its stdin. For a URL of ' +
      'the registry it prints the username and, as the password, the token of your login (or GREN_REGISTRY_TOKEN). ' +
      'store and erase do nothing: the token stays in $HOME/.gren/user and nowhere else.',
  ],
  examples: ['printf "protocol=https\\nhost=registry.example.com\\n\\n" | gren-registry git-credential --registry https://registry.example.com get'],
  async run(context, input) {
    const request = await readRequest(context);
    if (input.positionals[0] !== 'get' || context.token === null || !isRegistryRequest(context.registry, request)) return;
    const username = context.tokenSource === 'login' ? (context.credentials.get(context.registry)?.email ?? 'token') : 'token';
    context.out.say(`username=${username}\npassword=${context.token}`);
  },
};
