import type { Config } from '../config.ts';
import type { Clock } from '../clock.ts';
import type { Logger } from '../log.ts';
import { describeError } from '../log.ts';
import { DeliveryStore, type Delivery, type NotificationEvent, type Target } from './delivery-store.ts';
import { attempt } from './deliver.ts';

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

/** Only the host of a target goes in a log line: a URL may carry a secret in its path or query. */
function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '?';
  }
}

export function openNotifier(options: NotifierOptions): Notifier {
  const { config, clock, log } = options;
  const initialDelayMs = options.initialDelayMs ?? 1000;
  const maxDelayMs = options.maxDelayMs ?? 60 * 60 * 1000;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const concurrency = options.concurrency ?? 4;
  const targets = targetsOf(config);
  const store = new DeliveryStore(options.file);
  const busy = new Set<number>();
  const inFlight = new Set<Promise<void>>();
  const stopping = new AbortController();
  let timer: NodeJS.Timeout | null = null;
  let closed = false;

  const backoff = (attempts: number) => Math.min(maxDelayMs, initialDelayMs * 2 ** Math.min(attempts - 1, 30)) * (0.8 + Math.random() * 0.4);

  const settle = (delivery: Delivery, error: string | null) => {
    const fields = { delivery: delivery.id, target: delivery.target, host: hostOf(delivery.url), package: delivery.package, version: delivery.version };
    if (error === null) {
      store.delivered(delivery.id);
      log.info('notification_delivered', { ...fields, attempts: delivery.attempts + 1 });
      return;
    }
    const delay = Math.round(backoff(delivery.attempts + 1));
    store.failed(delivery.id, Date.now() + delay, error);
    log.warn('notification_failed', { ...fields, attempts: delivery.attempts + 1, error, retryInMs: delay });
  };

  const start = (delivery: Delivery) => {
    busy.add(delivery.id);
    const running = (async () => {
      const error = await attempt(delivery, config.webhookSecret, AbortSignal.any([stopping.signal, AbortSignal.timeout(timeoutMs)]));
      // An attempt cut short by close() stays owed as it was, for the next start.
      if (!stopping.signal.aborted || error === null) settle(delivery, error);
    })()
      .catch((err: unknown) => log.error('notification_store_failed', { delivery: delivery.id, ...describeError(err) }))
      .finally(() => {
        busy.delete(delivery.id);
        inFlight.delete(running);
        run();
      });
    inFlight.add(running);
  };

  const schedule = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    const next = store.nextDue(busy);
    if (next === null) return;
    timer = setTimeout(run, Math.min(Math.max(0, next - Date.now()), 2 ** 31 - 1));
    timer.unref();
  };

  function run(): void {
    if (closed) return;
    try {
      const free = concurrency - busy.size;
      if (free > 0) for (const delivery of store.due(Date.now(), free, busy)) start(delivery);
      schedule();
    } catch (err) {
      log.error('notification_store_failed', describeError(err));
    }
  }

  const created = () => clock.now().toISOString();

  const notifier: Notifier = {
    prepare(event) {
      if (targets.length === 0 || closed) return null;
      const id = store.addIntent(event, created());
      return {
        committed(commit) {
          store.commitIntent(id, commit, targets, Date.now(), created());
          run();
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
        log.info('notification_recovered', { package: intent.package, version: intent.version, event: intent.event, committed: commit !== null });
      }
      run();
    },
    owed: () => store.owed(),
    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearTimeout(timer);
      stopping.abort();
      await Promise.allSettled([...inFlight]);
      store.close();
    },
  };
  run();
  return notifier;
}
