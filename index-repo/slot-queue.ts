/** Thrown by `SlotQueue.acquire` when as many callers wait already as the queue holds. */
export class QueueFullError extends Error {
  constructor(waiting: number) {
    super(`${waiting} requests wait for a Git process already`);
    this.name = 'QueueFullError';
  }
}

type Waiter = { grant: (release: () => void) => void };

/**
 * A few things at a time, the rest in a first-come queue of bounded length: `acquire` resolves
 * with a release function once one of `slots` is free. A caller whose signal aborts while it
 * waits leaves the queue (rejected with the signal's reason); a caller that finds the queue full
 * is refused at once, so that a burst is answered "try again later" instead of piling up.
 */
export class SlotQueue {
  private readonly slots: number;
  private readonly length: number;
  private busy = 0;
  private readonly waiters: Waiter[] = [];

  constructor(options: { slots: number; length: number }) {
    this.slots = options.slots;
    this.length = options.length;
  }

  get running(): number {
    return this.busy;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  acquire(signal: AbortSignal): Promise<() => void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.busy < this.slots) return Promise.resolve(this.take());
    if (this.waiters.length >= this.length) return Promise.reject(new QueueFullError(this.waiters.length));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        grant: (release) => {
          signal.removeEventListener('abort', leave);
          resolve(release);
        },
      };
      const leave = () => {
        const at = this.waiters.indexOf(waiter);
        if (at !== -1) this.waiters.splice(at, 1);
        reject(signal.reason);
      };
      signal.addEventListener('abort', leave, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** Takes a slot; its release (idempotent) hands it to the first waiter or frees it. */
  private take(): () => void {
    this.busy++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.busy--;
      const next = this.waiters.shift();
      if (next) next.grant(this.take());
    };
  }
}
