import { median, ms, percentile, table } from './stats.ts';

export const kinds = ['publish', 'revoke', 'login', 'index', 'api', 'git'] as const;
export type Kind = (typeof kinds)[number];

/** A `429 rate_limited`: expected of a registry with limits, counted apart. */
export class RateLimited extends Error {}

/** An answer a correct client does not get, a request that failed, a git command that failed. */
export class Unexpected extends Error {
  readonly what: string;
  readonly detail: string;
  constructor(what: string, detail: string) {
    super(`${what}: ${detail}`);
    this.what = what;
    this.detail = detail;
  }
}

/** Checks a response's status: answers it when expected, else throws RateLimited (429) or Unexpected (with its body). */
export async function expectStatus(res: Response, expected: number[], what: string): Promise<Response> {
  if (expected.includes(res.status)) return res;
  const body = (await res.text().catch(() => '')).slice(0, 300);
  if (res.status === 429) throw new RateLimited(what);
  throw new Unexpected(`${what} ${res.status}`, body);
}

type Counts = { done: number; limited: number; failed: number; latencies: number[] };

/** Operations by kind: completed (with their latency), cut short by a 429, failed; failures by what failed. */
export function createTally() {
  const counts = Object.fromEntries(kinds.map((k) => [k, { done: 0, limited: 0, failed: 0, latencies: [] } as Counts])) as Record<Kind, Counts>;
  const failures = new Map<string, { count: number; example: string }>();
  return {
    counts,
    failures,
    /** Runs one operation of `kind`, counting how it ended; never throws. */
    async run(kind: Kind, operation: () => Promise<void>): Promise<void> {
      const started = performance.now();
      try {
        await operation();
        counts[kind].done += 1;
        counts[kind].latencies.push(performance.now() - started);
      } catch (err) {
        if (err instanceof RateLimited) {
          counts[kind].limited += 1;
          return;
        }
        counts[kind].failed += 1;
        const key = err instanceof Unexpected ? `${kind}: ${err.what}` : `${kind}: ${err instanceof Error ? err.message : String(err)}`;
        const seen = failures.get(key) ?? { count: 0, example: err instanceof Unexpected ? err.detail : String((err as Error).cause ?? '') };
        failures.set(key, { ...seen, count: seen.count + 1 });
      }
    },
    /** Totals, for the progress line. */
    totals() {
      const all = Object.values(counts);
      return { done: all.reduce((s, c) => s + c.done, 0), limited: all.reduce((s, c) => s + c.limited, 0), failed: all.reduce((s, c) => s + c.failed, 0) };
    },
    /** Prints operations by kind (count, rate, latency) and the failures. */
    print(seconds: number): void {
      table(
        ['operation', 'done', 'per second', 'median', 'p99', '429 (expected)', 'failed'],
        kinds.map((k) => {
          const c = counts[k];
          return [k, c.done, (c.done / seconds).toFixed(1), c.done ? ms(median(c.latencies)) : '-', c.done ? ms(percentile(c.latencies, 99)) : '-', c.limited, c.failed];
        }),
      );
      for (const [key, { count, example }] of failures) console.log(`  failed ${count}x ${key}${example ? `\n      ${example.replace(/\s+/g, ' ').slice(0, 300)}` : ''}`);
    },
  };
}

export type Tally = ReturnType<typeof createTally>;
