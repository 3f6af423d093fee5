import { CLIENTS, type RunName, type Target } from './publish-workloads.ts';
import { median, percentile } from './stats.ts';

/** One measured run: each publish's latency (ms), and the run's wall time. */
export type Run = { latencies: number[]; seconds: number };

/** How many publishes a round makes: a warm-up, then one client, then each of eight clients. */
export type Counts = { warm: number; single: number; perClient: number };

/** What the benchmark asks of a registry under test. */
export type Publisher = {
  /** Gets the bodies (and credentials) of a run's publishes ready, so that the clients only send them. */
  prepare(run: RunName, clients: number, count: number): void;
  publish(run: RunName, client: number, i: number): Promise<void>;
  /** Publishes whose body was not prepared (made while the clock ran). */
  late(): number;
};

/**
 * A publisher of prepared bodies: `prepareOne` makes what publishing `target` sends (body,
 * token) before the clock runs, `send` sends it and throws unless the registry acknowledged it.
 */
export function preparedPublisher<P>(parts: { target: (run: RunName, client: number, i: number) => Target; prepareOne: (target: Target) => P; send: (target: Target, prepared: P, run: RunName) => Promise<void> }): Publisher {
  const prepared = new Map<string, P>();
  const key = (t: Target) => `${t.author}/${t.name}@${t.version}`;
  let late = 0;
  return {
    prepare(run, clients, count) {
      for (let client = 0; client < clients; client++) {
        for (let i = 0; i < count; i++) {
          const target = parts.target(run, client, i);
          prepared.set(key(target), parts.prepareOne(target));
        }
      }
    },
    async publish(run, client, i) {
      const target = parts.target(run, client, i);
      let body = prepared.get(key(target));
      if (body === undefined) {
        late++;
        body = parts.prepareOne(target);
      }
      prepared.delete(key(target));
      await parts.send(target, body, run);
    },
    late: () => late,
  };
}

/** Runs `count` publishes from each of `parallel` clients, each client waiting for its answer before the next. */
export async function measure(parallel: number, count: number, publish: (client: number, i: number) => Promise<void>): Promise<Run> {
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: parallel }, async (_, client) => {
      for (let i = 0; i < count; i++) {
        const t0 = performance.now();
        await publish(client, i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return { latencies, seconds: (performance.now() - started) / 1000 };
}

export type RoundRuns = { single: Run; parallel: Run };

/** A round's runs on a started registry: the warm-up (not kept), one client, eight clients. */
export async function standardRuns(publisher: Publisher, counts: Counts): Promise<RoundRuns> {
  const run = async (name: RunName, clients: number, count: number) => {
    publisher.prepare(name, clients, count);
    return measure(clients, count, (client, i) => publisher.publish(name, client, i));
  };
  await run('warm', 1, counts.warm);
  const single = await run('single', 1, counts.single);
  const parallel = await run('parallel', CLIENTS, counts.perClient);
  return { single, parallel };
}

export type Figures = { median: number; p99: number; perSecond: number };

export function figures(run: Run): Figures {
  return { median: median(run.latencies), p99: percentile(run.latencies, 99), perSecond: run.latencies.length / run.seconds };
}
