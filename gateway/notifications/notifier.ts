// PLACEHOLDER: replaced by the packages work (issue 4).
import type { Config } from '../config.ts';
import type { Clock } from '../clock.ts';
import type { Logger } from '../log.ts';

export type NotifierOptions = { config: Config; file: string; clock: Clock; log: Logger };

export interface Notifier {
  close(): Promise<void>;
}

export function openNotifier(_options: NotifierOptions): Notifier {
  return { async close() {} };
}
