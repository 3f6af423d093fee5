import path from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger, type Logger } from '../../gateway/log.ts';

/** What the ops scripts (import, verify, backup) share: options, the data folder, their log, their exit. */

export class UsageError extends Error {}

type OptionTypes = Record<string, { type: 'string' | 'boolean' }>;

/** Reads argv strictly: unknown options and missing values are usage errors naming the script. */
export function readArgs<O extends OptionTypes>(script: string, argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${script}: ${(err as Error).message.split('\n')[0]}`);
  }
}

/** The data folder: --data, else REGISTRY_DATA, else ./data, as the registry itself resolves it. */
export function dataFolder(value: unknown, env: Record<string, string | undefined>, cwd: string): string {
  const chosen = typeof value === 'string' && value.trim() !== '' ? value : env['REGISTRY_DATA']?.trim() || './data';
  return path.resolve(cwd, chosen);
}

/** A log for the registry pieces an ops script opens: warnings and errors only, as JSON lines on stderr. */
export function quietLogger(): Logger {
  const stderr = createLogger((line) => process.stderr.write(line));
  return { info() {}, warn: stderr.warn, error: stderr.error };
}

/** Runs an ops script's main: usage errors exit 2 with the help, other failures exit 1 with their message. */
export async function runScript(help: string, main: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await main();
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n\n${help}`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
