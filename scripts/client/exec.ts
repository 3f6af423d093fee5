import os from 'node:os';
import { execFile, spawn } from 'node:child_process';
import type { CommandSpec } from './args.ts';
import { version } from './arguments.ts';
import { CliError } from './cli-error.ts';
import type { Context } from './context.ts';
import { bearerHeader, outdoRewrites, packagesBase, rewriteAll, withGitSettings, type GitSetting } from './git-settings.ts';
import { grenVersionFor } from './gren-version.ts';

/** Signals passed on to the command; an interrupt typed at the terminal reaches it directly, as it reaches every process of the job. */
const forwarded: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP'];

/** The compiler version for the package view: --gren-version, else what `gren --version` reports, else none (with a note why). */
async function compilerVersion(context: Context, given: unknown, command: string[]): Promise<string | null> {
  if (typeof given === 'string') return version(given, 'compiler version');
  const found = await grenVersionFor(command, context.env, context.cwd);
  if (found.version !== null) return found.version;
  context.out.note(
    `Note: ${found.why}, so packages come from ${packagesBase(context.registry, null)}, which offers every version ` +
      'whatever compiler it needs. Give the compiler version with --gren-version.',
  );
  return null;
}

/** The values of the `url.<base>.insteadOf` settings git reads in `env` (none when git is missing). */
function configuredRewrites(env: Record<string, string | undefined>, cwd: string): Promise<string[]> {
  return new Promise((resolve) => {
    execFile('git', ['config', '--get-regexp', '^url\\..*\\.insteadof$'], { env, cwd }, (err, stdout) => {
      if (err) return resolve([]);
      resolve(String(stdout).split('\n').flatMap((line) => (line.includes(' ') ? [line.slice(line.indexOf(' ') + 1)] : [])));
    });
  });
}

/** Runs the command with `env`, inheriting the terminal; resolves with its exit code (128 + the signal's number when a signal ended it). */
function run(command: string[], env: Record<string, string | undefined>, cwd: string): Promise<number> {
  const [program = '', ...args] = command;
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { env, cwd, stdio: 'inherit' });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    const ignore = () => {};
    for (const signal of forwarded) process.on(signal, forward);
    process.on('SIGINT', ignore);
    const stop = () => {
      for (const signal of forwarded) process.off(signal, forward);
      process.off('SIGINT', ignore);
    };
    child.once('error', (err: NodeJS.ErrnoException) => {
      stop();
      if (err.code === 'ENOENT') reject(new CliError('command_not_found', `${program} was not found${program.includes('/') ? '' : ' on the PATH'}.`));
      else if (err.code === 'EACCES') reject(new CliError('command_not_found', `${program} cannot be run: it is not an executable file.`));
      else reject(err);
    });
    child.once('exit', (code, signal) => {
      stop();
      resolve(code ?? 128 + (signal ? (os.constants.signals[signal] ?? 0) : 0));
    });
  });
}

export const execCommand: CommandSpec<Context> = {
  name: 'exec',
  args: [],
  rest: 'COMMAND [ARGS...]',
  summary: "Run a command (gren make, gren package install) with packages fetched from the registry instead of GitHub.",
  details: [
    'The command gets, in its environment only, git settings that send every https://github.com/ repository URL to ' +
      "the registry's package repositories for the compiler in use (the version gren --version reports, gren being " +
      'found as the command would find it, on its PATH), and, when you are logged in or GREN_REGISTRY_TOKEN is set, ' +
      'the token for private packages. These win over any rewrite of GitHub URLs in your git config files ' +
      '(such as those of gren-registry git-config). The token is never on a command line. Nothing is written to any git config file.',
    'The exit code is the command\'s. Without gren on the PATH, every version of a package is offered, whatever compiler it needs.',
  ],
  options: {
    'gren-version': { type: 'string', value: 'VERSION', description: 'The compiler version to fetch packages for, instead of asking gren --version.' },
  },
  examples: ['gren-registry exec -- gren make Main', 'gren-registry exec -- gren package install gren-lang/core', 'gren-registry exec --gren-version 0.6.3 -- npx gren make Main'],
  async run(context, input) {
    const grenVersion = await compilerVersion(context, input.options['gren-version'], input.rest);
    const rewrite = rewriteAll(context.registry, grenVersion);
    const configured = await configuredRewrites(context.env, context.cwd);
    const settings: GitSetting[] = [rewrite, ...outdoRewrites(configured, packagesBase(context.registry, grenVersion))];
    if (context.token !== null) settings.push(bearerHeader(context.registry, context.token));
    return run(input.rest, withGitSettings(context.env, settings), context.cwd);
  },
};
