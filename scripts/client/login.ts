import { setTimeout as sleep } from 'node:timers/promises';
import { CliError, usageError } from './cli-error.ts';
import type { Context } from './context.ts';
import type { RegistryClient } from './registry-client.ts';
import type { LineReader } from './prompt.ts';

/** A wrong code may be typed again this many times in all; the registry kills the login after the fifth. */
const codeAttempts = 5;
/** Codes live 15 minutes; past this the login is given up. */
const loginDeadlineMs = 16 * 60 * 1000;
/** The registry may answer a pending poll at once; polls are then spaced by this much. */
const pollSpacingMs = 1000;

async function askEmail(lines: LineReader): Promise<string> {
  for (;;) {
    const line = await lines.ask('Email: ');
    if (line === null) throw usageError('No email address was given.', 'Run gren-registry login EMAIL.');
    if (line.trim() !== '') return line.trim();
  }
}

/** Reads codes typed by the user until one is accepted. */
async function typedCode(client: RegistryClient, context: Context, fetchSessionToken: string, signal: AbortSignal): Promise<string> {
  const lines = context.lines();
  let wrong = 0;
  for (;;) {
    const line = await lines.ask(context.interactive ? 'Code: ' : '');
    if (signal.aborted) throw new CliError('aborted', 'The login was confirmed another way.');
    if (line === null) throw new CliError('no_code', 'No confirmation code was typed.');
    const code = line.trim();
    if (code === '') continue;
    try {
      const answer = await client.call<{ sessionToken: string }>('POST', '/session/fetch', {
        body: { fetchSessionToken, emailConfirmationCode: code },
        auth: 'none',
        signal,
      });
      return answer.body.sessionToken;
    } catch (err) {
      wrong += 1;
      if (!(err instanceof CliError) || err.code !== 'invalid_code' || wrong >= codeAttempts) throw err;
      context.out.note(`${err.message} Type it again:`);
    }
  }
}

/** Asks the registry, again and again, whether the login was confirmed on the page of the mail's link. */
async function openedLink(client: RegistryClient, fetchSessionToken: string, signal: AbortSignal): Promise<string> {
  const deadline = Date.now() + loginDeadlineMs;
  while (Date.now() < deadline) {
    const started = Date.now();
    try {
      const answer = await client.call<{ sessionToken?: string }>('POST', '/session/fetch', { body: { fetchSessionToken }, auth: 'none', signal });
      if (answer.status === 200 && typeof answer.body.sessionToken === 'string') return answer.body.sessionToken;
    } catch (err) {
      if (!(err instanceof CliError) || err.code !== 'rate_limited') throw err;
      await sleep(5000, undefined, { signal });
      continue;
    }
    const elapsed = Date.now() - started;
    if (elapsed < pollSpacingMs) await sleep(pollSpacingMs - elapsed, undefined, { signal });
  }
  throw new CliError('login_expired', 'The login was not confirmed in time.', { hint: 'Run gren-registry login again.' });
}

/** The more telling of the errors of both ways: not the prompt's "nothing typed" nor an aborted wait. */
function moreTelling(errors: unknown[]): unknown {
  return errors.find((e) => !(e instanceof CliError && ['no_code', 'aborted'].includes(e.code))) ?? errors[0];
}

/**
 * The first of the two ways to succeed. A denial (the person the mail went to pressed "deny"
 * on the link's page) ends the login at once, whatever the other way is doing; otherwise,
 * when both fail, the more telling error.
 */
async function firstConfirmation(attempts: Array<Promise<string>>, controller: AbortController): Promise<string> {
  try {
    return await new Promise<string>((resolve, reject) => {
      const errors: unknown[] = [];
      for (const attempt of attempts) {
        attempt.then(resolve, (err: unknown) => {
          if (err instanceof CliError && err.code === 'login_denied') return reject(err);
          errors.push(err);
          if (errors.length === attempts.length) reject(moreTelling(errors));
        });
      }
    });
  } finally {
    controller.abort();
  }
}

/**
 * Logs in by email: asks the registry to mail a code, then takes whichever comes first, the
 * code typed at the prompt or the login confirmed on the page of the mail's link. Returns the
 * email and session token.
 */
export async function login(context: Context, emailArgument: string | undefined): Promise<{ email: string; sessionToken: string }> {
  const email = emailArgument?.trim() || (await askEmail(context.lines()));
  const client = context.clientWith(null);
  const started = await client.call<{ fetchSessionToken: string }>('POST', '/session', { body: { email }, auth: 'none' });
  const { fetchSessionToken } = started.body;
  context.out.note(`A confirmation code is on its way to ${email}.`);
  context.out.note('Type the code from the mail here, or open the link in it and press "Confirm the login".');
  const controller = new AbortController();
  const sessionToken = await firstConfirmation(
    [typedCode(client, context, fetchSessionToken, controller.signal), openedLink(client, fetchSessionToken, controller.signal)],
    controller,
  );
  return { email, sessionToken };
}
