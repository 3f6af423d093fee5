// What counting a request in the metrics costs, against its peer on the same path: the
// request's log line. Alternating rounds of the same calls, medians in nanoseconds per request.
// Prints figures; never fails.
import { createMetrics } from '../../gateway/metrics.ts';
import { createLogger } from '../../gateway/log.ts';
import { batchedWriter } from '../../gateway/batched-writer.ts';
import { logRequest } from '../../gateway/log-request.ts';
import { median, table } from './stats.ts';

const ROUNDS = 15;
const CALLS = 200_000;

/** The paths a busy registry answers most, cycled through: index files, a clone, an API call. */
const paths = ['/index/packages/gren-lang/core/index.json', '/index/config.json', '/index.git/git-upload-pack', '/packages/gren-lang/core/latest'];

const metrics = createMetrics({ clock: { now: () => new Date() }, process: false });
// The log as the registry writes it (batched per turn), into a sink that drops it.
let written = 0;
const log = createLogger(batchedWriter((text) => (written += text.length)).write);

const contenders: Record<string, (path: string, started: number) => void> = {
  'metrics.request': (path, started) => metrics.request('GET', path, 200, started, null),
  'logRequest (peer)': (path, started) => logRequest(log, 'GET', path, 200, started),
};

const samples = new Map<string, number[]>(Object.keys(contenders).map((name) => [name, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, run] of Object.entries(contenders)) {
    const started = performance.now();
    for (let i = 0; i < CALLS; i++) run(paths[i & 3] as string, started);
    samples.get(name)?.push(((performance.now() - started) * 1e6) / CALLS);
    // Let the batched writer flush between rounds, as the event loop would.
    await new Promise((resolve) => setImmediate(resolve));
  }
}

console.log(`${ROUNDS} alternating rounds of ${CALLS.toLocaleString('en')} requests each (${written > 0 ? 'log written to a sink' : 'nothing logged'})`);
table(
  ['per request', 'median', 'fastest round'],
  [...samples].map(([name, values]) => [name, `${median(values).toFixed(0)} ns`, `${Math.min(...values).toFixed(0)} ns`]),
);
