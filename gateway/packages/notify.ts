import type { IndexRepo } from '../../index-repo/types.ts';
import type { Logger } from '../log.ts';
import { describeError } from '../log.ts';
import type { NotificationEvent, Notifier, PreparedNotification } from '../notifications/notifier.ts';
import type { PackagesContext } from './packages.ts';
import { refreshRecord } from './catalog.ts';

const nothing: PreparedNotification = { committed() {}, abandoned() {} };

/**
 * Prepares the notification of a public change so that it can never fail or hold up the
 * change itself: a failure to record it is logged as an error, and the change goes on.
 */
export function prepareNotification(notifier: Notifier, log: Logger, event: NotificationEvent): PreparedNotification {
  const guarded = (step: string, work: () => void) => {
    try {
      work();
    } catch (err) {
      log.error('notification_not_recorded', { step, package: event.package, version: event.version, event: event.event, ...describeError(err) });
    }
  };
  let prepared: PreparedNotification | null = null;
  guarded('prepare', () => {
    prepared = notifier.prepare(event);
  });
  const settled: PreparedNotification = prepared ?? nothing;
  return {
    committed: (commit) => guarded('committed', () => settled.committed(commit)),
    abandoned: () => guarded('abandoned', () => settled.abandoned()),
  };
}

/**
 * After an update failed in an unknown state (an I/O error: the commit may or may not have
 * been made), the package's record is re-read from `main`, and its prepared notification is
 * left recorded: the next start settles it by what `main` holds.
 */
export async function settleUnknown(ctx: PackagesContext, repo: IndexRepo, fullName: string, isPrivate: boolean): Promise<void> {
  try {
    await refreshRecord(ctx.catalog, repo, fullName, isPrivate);
  } catch (err) {
    ctx.log.error('catalog_refresh_failed', { package: fullName, ...describeError(err) });
  }
}
