import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import nodemailer from 'nodemailer';
import type { Config } from './config.ts';
import type { Logger } from './log.ts';
import { fail } from './errors.ts';
import { loginMail } from './accounts/login-mail.ts';
import type { Metrics } from './metrics.ts';

export type LoginMailInput = { to: string; code: string; link: string; validMinutes: number };

export interface Mailer {
  /** Sends the login mail; a mail that cannot be sent is logged and thrown as `503 unavailable`. */
  sendLogin(input: LoginMailInput): Promise<void>;
  close(): void;
}

/** Gives up on a silent mail server well before a client gives up on the request. */
const smtpTimeouts = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 };

/**
 * With `SMTP_URL`, login mail goes to that server. Without it (a development setup), each
 * mail is written to `<REGISTRY_DATA>/outbox/` and its code logged in one line, as
 * the README says: the only place the registry ever writes or logs a code.
 */
export function createMailer(options: { config: Config; outbox: string; log: Logger; metrics: Pick<Metrics, 'loginMail'> }): Mailer {
  const { config, outbox, log, metrics } = options;
  const smtp = config.smtpUrl === null ? null : nodemailer.createTransport({ url: config.smtpUrl, ...smtpTimeouts });
  const writer = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });

  const deliver = async (to: string, code: string, message: { subject: string; text: string }) => {
    const envelope = { from: config.mailFrom, to, ...message };
    if (smtp) {
      await smtp.sendMail(envelope);
      log.info('login_mail_sent', { transport: 'smtp' });
      return;
    }
    const { message: raw } = (await writer.sendMail(envelope)) as unknown as { message: Buffer };
    await fs.mkdir(outbox, { recursive: true, mode: 0o700 });
    const file = path.join(outbox, `${new Date().toISOString().replace(/[:.]/g, '-')}-${crypto.randomBytes(4).toString('hex')}.eml`);
    await fs.writeFile(file, raw, { mode: 0o600 });
    log.info('login_mail_written', { to, code, file });
  };

  return {
    async sendLogin(input) {
      const message = loginMail({ registryUrl: config.registryUrl, email: input.to, ...input });
      try {
        await deliver(input.to, input.code, message);
        metrics.loginMail('sent');
      } catch (err) {
        metrics.loginMail('failed');
        log.error('mail_failed', describeMailError(err));
        throw fail('unavailable', 'The login mail could not be sent; try again in a moment.');
      }
    },
    close() {
      smtp?.close();
      writer.close();
    },
  };
}

/** What a failed send says, without the message (which holds the code). */
function describeMailError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { error: String(err) };
  const { code, responseCode, command } = err as Error & { code?: unknown; responseCode?: unknown; command?: unknown };
  return { error: err.name, message: err.message, code, responseCode, command };
}
