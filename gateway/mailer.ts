// PLACEHOLDER: replaced by the accounts work (issue 3).
import type { Config } from './config.ts';
import type { Logger } from './log.ts';

export interface Mailer {
  close(): void;
}

export function createMailer(_options: { config: Config; outbox: string; log: Logger }): Mailer {
  return { close() {} };
}
