import { rotationScript, runWrk, type LoadResult } from './wrk.ts';

/** index.json reads on an idle registry, then while clients publish; and the publishes meanwhile. */
export type ReadsResult = { idle: LoadResult; loaded: LoadResult; publishesPerSecond: number };

export type ReadsOptions = {
  base: string;
  /** URL paths read in turn (index.json files). */
  paths: string[];
  /** A folder for wrk's script. */
  work: string;
  seconds: number;
  /** Readers: wrk's open connections, each asking again as soon as answered. */
  connections: number;
  clients: number;
  publish: (client: number, i: number) => Promise<void>;
};

/**
 * Measures index.json reads with wrk (one thread, a few keep-alive connections) on the idle
 * registry, then again while `clients` publish without pause, the clients started half a
 * second before the readers and stopped after them.
 */
export async function readsUnderLoad(options: ReadsOptions): Promise<ReadsResult> {
  for (const file of options.paths) {
    const res = await fetch(`${options.base}${file}`);
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${file}: ${res.status} before any load; the reads would measure nothing`);
  }
  const script = rotationScript(options.work, options.paths);
  const load = { url: `${options.base}${options.paths[0]}`, connections: options.connections, script };
  await runWrk({ ...load, seconds: 1 });
  const idle = await runWrk({ ...load, seconds: options.seconds });
  let stopping = false;
  let published = 0;
  let failure: unknown = null;
  const started = performance.now();
  const clients = Array.from({ length: options.clients }, async (_, client) => {
    try {
      for (let i = 0; !stopping; i++) {
        await options.publish(client, i);
        published++;
      }
    } catch (err) {
      failure ??= err;
      stopping = true;
    }
  });
  let loaded: LoadResult;
  try {
    await new Promise((resolve) => setTimeout(resolve, 500));
    loaded = await runWrk({ ...load, seconds: options.seconds });
  } finally {
    stopping = true;
    await Promise.all(clients);
  }
  if (failure !== null) throw failure;
  return { idle, loaded, publishesPerSecond: published / ((performance.now() - started) / 1000) };
}
