/**
 * Runs `run` one at a time, coalescing calls: a call while nothing runs starts a run; a call
 * while one runs queues one more run (after it), and every further call meanwhile joins that
 * queued run. Each call's promise settles once a run that started after the call has ended, so
 * whatever the caller asked for is seen by it.
 */
export function coalesced(run: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | null = null;
  let queued: Promise<void> | null = null;
  const start = (): Promise<void> => {
    const current: Promise<void> = run().finally(() => {
      if (running === current) running = null;
    });
    running = current;
    return current;
  };
  return () => {
    if (queued) return queued;
    if (!running) return start();
    queued = running.then(
      () => undefined,
      () => undefined,
    ).then(() => {
      queued = null;
      return start();
    });
    return queued;
  };
}
