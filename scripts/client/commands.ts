import type { CommandSpec } from './args.ts';
import type { Context } from './context.ts';
import { loginCommand, logoutCommand, whoamiCommand } from './session-commands.ts';
import { identityCommands } from './identity-commands.ts';
import { tokenCommands } from './token-commands.ts';
import { sessionsCommands } from './sessions-commands.ts';
import { publishCommand } from './publish.ts';
import { packageCommands } from './package-commands.ts';
import { execCommand } from './exec.ts';
import { gitConfigCommand } from './git-config.ts';
import { gitCredentialCommand } from './git-credential.ts';

/** Every command of gren-registry, in the order the help lists them. */
export const commands: CommandSpec<Context>[] = [
  loginCommand,
  logoutCommand,
  whoamiCommand,
  ...identityCommands,
  ...tokenCommands,
  ...sessionsCommands,
  publishCommand,
  ...packageCommands,
  execCommand,
  gitConfigCommand,
  gitCredentialCommand,
];
