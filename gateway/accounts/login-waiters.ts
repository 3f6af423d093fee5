/**
 * In-process wake-ups for fetches held open while a login link is not yet opened: the
 * link's page wakes the waiting fetches of its login request at once, with no polling.
 */
export type LoginWaiters = {
  /** Resolves when `wake(requestId)` is called, after `ms`, or when `signal` aborts, whichever comes first. */
  wait(requestId: number, ms: number, signal?: AbortSignal): Promise<void>;
  wake(requestId: number): void;
  /** Releases every waiter (the registry is closing). */
  wakeAll(): void;
};

export function createLoginWaiters(): LoginWaiters {
  const waiting = new Map<number, Set<() => void>>();
  const wakeSet = (set: Set<() => void> | undefined) => {
    for (const wake of [...(set ?? [])]) wake();
  };
  return {
    wait(requestId, ms, signal) {
      return new Promise<void>((resolve) => {
        const set = waiting.get(requestId) ?? new Set();
        waiting.set(requestId, set);
        const done = () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          set.delete(done);
          if (set.size === 0 && waiting.get(requestId) === set) waiting.delete(requestId);
          resolve();
        };
        const timer = setTimeout(done, ms);
        set.add(done);
        if (signal?.aborted) done();
        else signal?.addEventListener('abort', done, { once: true });
      });
    },
    wake(requestId) {
      wakeSet(waiting.get(requestId));
    },
    wakeAll() {
      for (const set of [...waiting.values()]) wakeSet(set);
    },
  };
}
