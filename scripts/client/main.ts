import { ownArguments, parseCommandLine } from './args.ts';
import { CliError } from './cli-error.ts';
import { commands } from './commands.ts';
import { createContext, type ProcessLike } from './context.ts';
import { createOutput } from './output.ts';

/** Turns anything thrown into the one sentence the user reads. */
function asCliError(err: unknown): CliError {
  if (err instanceof CliError) return err;
  const errno = err as NodeJS.ErrnoException;
  if (errno.code === 'EACCES' || errno.code === 'EPERM') return new CliError('permission_denied', errno.message);
  return new CliError('unexpected', `Something went wrong in gren-registry: ${(err as Error).message ?? String(err)}`);
}

/**
 * Runs one command line; resolves with the exit code (0 done, 1 failed or refused, 2 usage
 * error), or, for a command that runs another one, that command's.
 */
export async function runCli(argv: string[], proc: ProcessLike): Promise<number> {
  let close = () => {};
  try {
    const parsed = parseCommandLine(argv, commands);
    if (parsed.kind === 'help') {
      proc.stdout.write(parsed.text);
      return 0;
    }
    const context = createContext(proc, parsed.input);
    close = context.close;
    return (await parsed.command.run(context, parsed.input)) ?? 0;
  } catch (err) {
    const error = asCliError(err);
    createOutput({ stdout: proc.stdout, stderr: proc.stderr, json: ownArguments(argv).includes('--json') }).error(error);
    return error.exitCode;
  } finally {
    close();
  }
}
