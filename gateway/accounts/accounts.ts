// PLACEHOLDER: replaced by the accounts work (issue 3).
import type { Clock } from '../clock.ts';
import type { Logger } from '../log.ts';

export type AccountsOptions = { file: string; clock: Clock; log: Logger };

export interface Accounts {
  close(): void;
}

export function openAccounts(_options: AccountsOptions): Accounts {
  return { close() {} };
}
