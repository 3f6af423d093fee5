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

/** A commit of `main`, as the index's history gives them: newest first. */
export type HistoryEntry = { commit: string; message: string };

/** What `recover` reads to find the events a crash may have left unrecorded. */
export type RecoverySource = {
  /** The commit `main` names now. */
  head: string;
  /** The commits of `main`, newest first. */
  history: () => AsyncIterable<HistoryEntry>;
  /**
   * For events an earlier version of the registry recorded before their commit: a commit holding
   * the change, or null when it was not made.
   */
  settle: (event: NotificationEvent) => Promise<string | null>;
};

/**
 * Tells the documentation site and the webhooks about public publishes and revokes, at least
 * once. Each committed change is recorded with its deliveries right after its commit, without
 * waiting for a flush; the index's history, which is durable, is the record of what happened,
 * and a start walks it back to find any change a crash or power cut left unrecorded. Deliveries
 * are retried with backoff, across restarts, until each is settled.
 */
export interface Notifier {
  /** Records a public change committed as `commit`: its deliveries are owed from now on. */
  committed(event: NotificationEvent, commit: string): void;
  /** At start: records the changes of `main` the last run did not (see `RecoverySource`). */
  recover(source: RecoverySource): Promise<void>;
  /** How many deliveries are owed right now. */
  owed(): number;
  /** How many deliveries are owed right now, and when the oldest of them was recorded (null: none is). */
  backlog(): { owed: number; oldest: Date | null };
  close(): Promise<void>;
}

/** The event a commit of the public index made, from its message (`Publish <name> <version>`, `Revoke <name> <version>`), or null. */
export function eventOf(message: string): NotificationEvent | null {
  const match = /^(Publish|Revoke) ([^\s/]+\/[^\s/]+) (\d+\.\d+\.\d+)$/.exec(message.split('\n', 1)[0] ?? '');
  if (!match) return null;
  return { event: match[1] === 'Publish' ? 'publish' : 'revoke', package: match[2] as string, version: match[3] as string };
}

/** Commits a batch may hold at most: past the newest recorded event, this many more are checked. */
const OVERLAP = 64;
const BASELINE = 'baseline';

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
    committed(event, commit) {
      if (closed) return;
      // Recorded even with no target, so that one configured later is not owed what came before.
      if (store.record(event, commit, targets, Date.now(), created()) && targets.length > 0) worker.run();
    },
    async recover({ head, history, settle }) {
      for (const intent of store.intents()) {
        const commit = await settle(intent);
        if (commit !== null) store.record(intent, commit, targets, Date.now(), created());
        store.dropIntent(intent.id);
        options.log.info('notification_recovered', { package: intent.package, version: intent.version, event: intent.event, committed: commit !== null });
      }
      const baseline = store.meta(BASELINE);
      if (baseline === null) {
        // The first start that records events: what came before is not owed again.
        store.setMeta(BASELINE, head);
      } else {
        const missed: Array<{ event: NotificationEvent; commit: string }> = [];
        let past = 0;
        for await (const { commit, message } of history()) {
          if (commit === baseline || past >= OVERLAP) break;
          const event = eventOf(message);
          if (event === null) continue;
          if (store.known(event)) past++;
          else missed.unshift({ event, commit });
        }
        for (const { event, commit } of missed) {
          store.record(event, commit, targets, Date.now(), created());
          options.log.info('notification_recovered', { package: event.package, version: event.version, event: event.event, commit });
        }
      }
      worker.run();
    },
    owed: () => store.owed(),
    backlog() {
      const { owed, oldest } = store.backlog();
      return { owed, oldest: oldest === null ? null : new Date(oldest) };
    },
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
