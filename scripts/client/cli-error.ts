/**
 * A failure the command line explains in one sentence. `code` is the registry's error code
 * when the registry refused, or one of the client's own (`usage`, `not_logged_in`,
 * `unreachable`, `invalid_bundle_file`, ...); `exitCode` is 2 for usage errors, 1 otherwise.
 */
export class CliError extends Error {
  readonly code: string;
  readonly exitCode: number;
  readonly status: number | null;
  readonly hint: string | null;
  constructor(code: string, message: string, options: { status?: number; hint?: string; exitCode?: number } = {}) {
    super(message);
    this.name = 'CliError';
    this.code = code;
    this.status = options.status ?? null;
    this.hint = options.hint ?? null;
    this.exitCode = options.exitCode ?? (code === 'usage' ? 2 : 1);
  }
}

/** A mistake in the command line itself: unknown command or option, missing argument. */
export function usageError(message: string, hint?: string): CliError {
  return new CliError('usage', message, hint === undefined ? {} : { hint });
}
