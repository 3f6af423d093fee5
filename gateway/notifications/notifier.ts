import type { Config } from '../config.ts';
import type { Clock } from '../clock.ts';
import type { Logger } from '../log.ts';
import { DeliveryStore, type NotificationEvent, type Target } from './delivery-store.ts';
import { DeliveryWorker } from './delivery-worker.ts';

export type { NotificationEvent } from './delivery-store.ts';

export type NotifierOptions = {
  config: Config;
  /** The SQLite file holding owed deliveries. */
  file: string;
  clock: Clock;
  log: Logger;
  /** Delay before the first retry; each further retry doubles it (with jitter), up to `maxDelayMs`. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** How long one attempt may take before it counts as failed. */
  timeoutMs?: number;
  /** Attempts in flight at once. */
  concurrency?: number;
};

/** An event recorded before its commit: say how it ended. */
export type PreparedNotification = {
  /** The change is committed as `commit`: its deliveries are owed from now on. */
  committed(commit: string): void;
  /** Nothing was committed: nothing is owed. */
  abandoned(): void;
};

/**
 * Tells the documentation site and the webhooks about public publishes and revokes, at
 * least once: every delivery is recorded in SQLite before the publish answers, and retried
 * with backoff, across restarts, until it is settled.
 */
export interface Notifier {
  /**
   * Records `event` as about to be committed, durably, before the commit is made; null when
   * no target is configured. A process that dies between the commit and `committed` leaves
   * the record for `recover` to settle.
   */
  prepare(event: NotificationEvent): PreparedNotification | null;
  /**
   * Settles the events recorded by a process that died before knowing their outcome:
   * `find` answers a commit holding the change, or null when the change was not made.
   */
  recover(find: (event: NotificationEvent) => Promise<string | null>): Promise<void>;
  /** How many deliveries are owed right now. */
  owed(): number;
  close(): Promise<void>;
}

function targetsOf(config: Config): Target[] {
  const targets: Target[] = config.packagesSiteUrl ? [{ kind: 'site', url: config.packagesSiteUrl }] : [];
  return [...targets, ...config.webhookUrls.map((url): Target => ({ kind: 'webhook', url }))];
}

export function openNotifier(options: NotifierOptions): Notifier {
  const { config, clock } = options;
  const targets = targetsOf(config);
  const store = new DeliveryStore(options.file);
  const worker = new DeliveryWorker({
    store,
    log: options.log,
    secret: config.webhookSecret,
    initialDelayMs: options.initialDelayMs ?? 1000,
    maxDelayMs: options.maxDelayMs ?? 60 * 60 * 1000,
    timeoutMs: options.timeoutMs ?? 10_000,
    concurrency: options.concurrency ?? 4,
  });
  const created = () => clock.now().toISOString();
  let closed = false;

  const notifier: Notifier = {
    prepare(event) {
      if (targets.length === 0 || closed) return null;
      const id = store.addIntent(event, created());
      return {
        committed(commit) {
          store.commitIntent(id, commit, targets, Date.now(), created());
          worker.run();
        },
        abandoned() {
          store.dropIntent(id);
        },
      };
    },
    async recover(find) {
      for (const intent of store.intents()) {
        const commit = await find(intent);
        if (commit === null) store.dropIntent(intent.id);
        else store.commitIntent(intent.id, commit, targets, Date.now(), created());
        options.log.info('notification_recovered', { package: intent.package, version: intent.version, event: intent.event, committed: commit !== null });
      }
      worker.run();
    },
    owed: () => store.owed(),
    async close() {
      if (closed) return;
      closed = true;
      await worker.stop();
      store.close();
    },
  };
  worker.run();
  return notifier;
}
