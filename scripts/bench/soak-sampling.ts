import { monitorEventLoopDelay } from 'node:perf_hooks';
import { sampleProcess, type ProcessSample } from './process-sample.ts';
import { kinds, type Tally } from './soak-tally.ts';
import { table } from './stats.ts';
import type { SoakSamples } from './soak-verdict.ts';

export const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/** How long V8's heap must have held its size (within 10%) for the warm-up to end, and the most the warm-up is drawn out for it. */
const heapSteadySeconds = 60;
const longestWait = 300;

/**
 * Samples the registry every `everySeconds` until stopped, printing a line each time: the
 * operations so far, then what the registry holds, then the event-loop delay of the registry
 * and of this process (a load generator held up makes its own trouble: late requests, reused
 * connections the registry has closed). The first samples are the warm-up, printed and not
 * kept: at least `warmUpSeconds`, and until V8's heap has held its size for a minute (it
 * doubles its young generation once, after one to four minutes of this load, and RSS takes
 * 100 MB more), at most 5 minutes longer. `deadline()` is when the load is to stop: the
 * warm-up's end plus `measuredSeconds`, or Infinity while it lasts.
 */
export function startSampling(options: { metricsUrl: string; pid: number; tally: Tally; started: number; everySeconds: number; warmUpSeconds: number; measuredSeconds: number }) {
  const { metricsUrl, pid, tally, started, warmUpSeconds } = options;
  const samples: SoakSamples = { rss: [], jsMemory: [], fds: [], loopP99: [] };
  const ownDelay = monitorEventLoopDelay({ resolution: 10 });
  ownDelay.enable();
  let heapMark = 0;
  let heapMarkAt = 0;
  let deadline = Infinity;
  const warmUpOver = (t: number) => t >= warmUpSeconds && (warmUpSeconds === 0 || t - heapMarkAt >= heapSteadySeconds || t >= warmUpSeconds + longestWait);
  const take = async () => {
    const s = await sampleProcess(metricsUrl, pid);
    const t = (Date.now() - started) / 1000;
    if (s.heapTotal > 1.1 * heapMark) [heapMark, heapMarkAt] = [s.heapTotal, t];
    if (deadline === Infinity && warmUpOver(t)) {
      deadline = Date.now() + options.measuredSeconds * 1000;
      console.log(`warm-up over at ${t.toFixed(0)} s (V8's heap at ${mb(heapMark)} since ${heapMarkAt.toFixed(0)} s); measuring for ${options.measuredSeconds} s`);
    }
    const warmingUp = deadline === Infinity;
    if (!warmingUp) {
      samples.rss.push({ t, v: s.rss });
      samples.jsMemory.push({ t, v: s.heapUsed + s.external });
      samples.fds.push({ t, v: s.fds });
      samples.loopP99.push({ t, v: s.loopP99 });
    }
    const { done, limited, failed } = tally.totals();
    const byKind = kinds.map((k) => `${k} ${tally.counts[k].done}`).join(' ');
    const own = ownDelay.percentile(99) / 1e6;
    ownDelay.reset();
    console.log(
      `${t.toFixed(0).padStart(5)}s${warmingUp ? ' warm-up' : ''}  ops ${done} (${byKind})  429 ${limited}  failed ${failed}  |  RSS ${mb(s.rss)} (/proc ${mb(s.procRss)}; heap ${mb(s.heapUsed)} of ${mb(s.heapTotal)}, external ${mb(s.external)})  fds ${s.fds} (/proc ${s.procFds})  processes ${s.processes}  loop p99 ${(s.loopP99 * 1000).toFixed(1)} ms (generator's ${own.toFixed(0)} ms)`,
    );
  };
  let failure: unknown = null;
  const timer = setInterval(() => take().catch((err: unknown) => (failure ??= err)), options.everySeconds * 1000);
  return {
    samples,
    deadline: () => (failure ? 0 : deadline),
    stop() {
      clearInterval(timer);
      ownDelay.disable();
      if (failure) throw new Error(`sampling the registry failed: ${String(failure)}`);
    },
  };
}

/**
 * The registry at rest: after its kept-alive connections have closed (5 s idle on its side,
 * less on fetch's), the fewest descriptors and child processes of a few samples a second apart.
 */
export async function atRest(metricsUrl: string, pid: number): Promise<ProcessSample> {
  await new Promise((resolve) => setTimeout(resolve, 6000));
  let least: ProcessSample | null = null;
  for (let i = 0; i < 5; i++) {
    const s = await sampleProcess(metricsUrl, pid);
    least = least === null ? s : { ...s, fds: Math.min(least.fds, s.fds), procFds: Math.min(least.procFds, s.procFds), processes: Math.min(least.processes, s.processes) };
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  return least as ProcessSample;
}

/** Compares the registry at rest before and after the load, as a table; answers the failures. */
export function judgeRest(before: ProcessSample, after: ProcessSample): string[] {
  table(
    ['at rest', 'RSS', 'heap used', 'external', 'open fds', '/proc fds', 'child processes'],
    [before, after].map((s, i) => [i === 0 ? 'before the load' : 'after the load', mb(s.rss), mb(s.heapUsed), mb(s.external), s.fds, s.procFds, s.processes]),
  );
  const failures: string[] = [];
  if (after.fds > before.fds + 8) failures.push(`descriptors leak: ${after.fds - before.fds} more open at rest after the load than before`);
  if (after.processes > before.processes) failures.push(`processes leak: ${after.processes - before.processes} more child processes at rest after the load than before`);
  return failures;
}
