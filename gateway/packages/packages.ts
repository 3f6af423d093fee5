// PLACEHOLDER: replaced by the packages work (issue 4).
import type { Clock } from '../clock.ts';
import type { Logger } from '../log.ts';
import type { IndexRepo } from '../../index-repo/types.ts';
import type { Notifier } from '../notifications/notifier.ts';

export interface Packages {}

export async function createPackages(_deps: { index: IndexRepo; privateIndex: IndexRepo; notifier: Notifier; clock: Clock; log: Logger }): Promise<Packages> {
  return {};
}
