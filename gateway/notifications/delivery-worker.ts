import type { Logger } from '../log.ts';
import { describeError } from '../log.ts';
import type { Delivery, DeliveryStore } from './delivery-store.ts';
import { attempt } from './deliver.ts';
import { retryDelay } from '../../index-repo/retry-delay.ts';

export type WorkerOptions = {
  store: DeliveryStore;
  log: Logger;
  secret: string | null;
  initialDelayMs: number;
  maxDelayMs: number;
  timeoutMs: number;
  concurrency: number;
};

/** Only the host of a target goes in a log line: a URL may carry a secret in its path or query. */
function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '?';
  }
}

/**
 * Makes the owed deliveries: those due now, a few at a time, then sleeps until the next is
 * due. A failed attempt is due again after a delay that doubles from `initialDelayMs` up to
 * `maxDelayMs`, with ±20% jitter so that targets coming back are not hit all at once.
 */
export class DeliveryWorker {
  private readonly options: WorkerOptions;
  private readonly busy = new Set<number>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly stopping = new AbortController();
  private timer: NodeJS.Timeout | null = null;

  constructor(options: WorkerOptions) {
    this.options = options;
  }

  /** Starts what is due and sets the timer for what is not; call after anything becomes owed. */
  run(): void {
    if (this.stopping.signal.aborted) return;
    try {
      const free = this.options.concurrency - this.busy.size;
      if (free > 0) for (const delivery of this.options.store.due(Date.now(), free, this.busy)) this.start(delivery);
      this.schedule();
    } catch (err) {
      this.options.log.error('notification_store_failed', describeError(err));
    }
  }

  /** Stops: attempts in flight are cut short and stay owed as they were, for the next start. */
  async stop(): Promise<void> {
    this.stopping.abort();
    if (this.timer) clearTimeout(this.timer);
    await Promise.allSettled([...this.inFlight]);
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const next = this.options.store.nextDue(this.busy);
    if (next === null) return;
    this.timer = setTimeout(() => this.run(), Math.min(Math.max(0, next - Date.now()), 2 ** 31 - 1));
    this.timer.unref();
  }

  private start(delivery: Delivery): void {
    this.busy.add(delivery.id);
    const signal = AbortSignal.any([this.stopping.signal, AbortSignal.timeout(this.options.timeoutMs)]);
    const running = attempt(delivery, this.options.secret, signal)
      .then((error) => {
        if (!this.stopping.signal.aborted || error === null) this.settle(delivery, error);
      })
      .catch((err: unknown) => this.options.log.error('notification_store_failed', { delivery: delivery.id, ...describeError(err) }))
      .finally(() => {
        this.busy.delete(delivery.id);
        this.inFlight.delete(running);
        this.run();
      });
    this.inFlight.add(running);
  }

  private settle(delivery: Delivery, error: string | null): void {
    const { store, log } = this.options;
    const fields = { delivery: delivery.id, target: delivery.target, host: hostOf(delivery.url), package: delivery.package, version: delivery.version, attempts: delivery.attempts + 1 };
    if (error === null) {
      store.delivered(delivery.id);
      log.info('notification_delivered', fields);
      return;
    }
    const delay = retryDelay(delivery.attempts + 1, this.options.initialDelayMs, this.options.maxDelayMs);
    store.failed(delivery.id, Date.now() + delay, error);
    log.warn('notification_failed', { ...fields, error, retryInMs: delay });
  }
}
