import type { IndexRepo } from '../../index-repo/types.ts';
import type { Logger } from '../log.ts';
import { describeError } from '../log.ts';
import type { NotificationEvent, Notifier } from '../notifications/notifier.ts';
import type { PackagesContext } from './packages.ts';
import { refreshRecord } from './catalog.ts';

/**
 * Records the notification of a committed public change so that it can never fail the change
 * itself: a failure to record it is logged as an error (the next start finds the change in the
 * index's history and records it then).
 */
export function notifyCommitted(notifier: Notifier, log: Logger, event: NotificationEvent, commit: string): void {
  try {
    notifier.committed(event, commit);
  } catch (err) {
    log.error('notification_not_recorded', { package: event.package, version: event.version, event: event.event, commit, ...describeError(err) });
  }
}

/**
 * After an update failed in an unknown state (an I/O error: the commit may or may not have
 * been made), the package's record is re-read from `main`; if the change was committed, the next
 * start finds it in the index's history and records its notification.
 */
export async function settleUnknown(ctx: PackagesContext, repo: IndexRepo, fullName: string, isPrivate: boolean): Promise<void> {
  try {
    await refreshRecord(ctx.catalog, repo, fullName, isPrivate);
  } catch (err) {
    ctx.log.error('catalog_refresh_failed', { package: fullName, ...describeError(err) });
  }
}
