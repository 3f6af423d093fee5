import { growthOf, type Growth, type Point } from './growth.ts';
import { table } from './stats.ts';

/** What the soak concludes from its samples; each item of `criteria` is one way to fail. */
export const criteria = `A run fails, with a line saying why, when:
  - RSS climbs: its least-squares slope is over 64 MB/h, the last third's own slope is
    positive, and the last third's median is above the middle third's by more than 4 MB,
    than the middle third's interquartile range (its noise) and than 10% of it, and by at
    least 3/4 of what the middle third gained on the first. Memory that settles (the C
    allocator reaching its high-water mark, caches filling) grows ever more slowly, or in a
    jump when a burst of work sets a new high; a leak keeps climbing;
  - the memory JavaScript holds (heap in use plus Buffers) climbs: the floor of its samples
    (each third's lowest, between collections) rises from the first third to the middle one,
    and from the middle one to the last by more than 8 MB and 8%, and by at least half of the
    first rise;
  - open descriptors grow: the slope is positive and the last third's fewest are more than
    the middle third's most;
  - event-loop delay grows: the last third's median p99 is over twice the middle third's and
    over 50 ms, and its lowest is above the middle third's median;
  - at rest (after the load, idle connections closed) the registry holds more than 8
    descriptors more, or more child processes, than at rest before it;
  - any answer is unexpected (any 5xx, or a 4xx a correct client does not get; 429s are
    expected and counted apart), a request fails (one on a kept-alive connection the registry
    had just closed is sent again, and counted), a git command fails, the registry logs an
    error, or it does not exit 0 on SIGTERM.
The samples of the measured minutes (after the warm-up) are cut into thirds. A short run sees
only fast growth: in 3 minutes a leak must add some 10 MB a minute to JavaScript's memory
(40 MB to RSS) to stand out from the noise; in 30 minutes (--minutes 30), 4 MB to RSS.`;

const MB = 1024 * 1024;

export type SoakSamples = { rss: Point[]; jsMemory: Point[]; fds: Point[]; loopP99: Point[] };

type Judged = { label: string; growth: Growth; show: (value: number) => string; failure: string | null };

const showMB = (v: number) => `${(v / MB).toFixed(1)} MB`;

function judgeRss(points: Point[]): Judged {
  const g = growthOf(points);
  const step = g.last.median - g.middle.median;
  const before = g.middle.median - g.early.median;
  const aboveNoise = step > Math.max(4 * MB, g.middle.spread, 0.1 * g.middle.median);
  const grows = g.slopePerHour > 64 * MB && g.lastSlopePerHour > 0 && aboveNoise && step >= 0.75 * before;
  const failure = grows ? `RSS grows without bound: +${(g.slopePerHour / MB).toFixed(0)} MB/h (the last third ${showMB(step)} above the middle one, which was ${showMB(before)} above the first)` : null;
  return { label: 'RSS', growth: g, show: showMB, failure };
}

/** The memory JavaScript holds (heap in use and Buffers), by its floor: the least of each third, between collections. */
function judgeJsMemory(points: Point[]): Judged {
  const g = growthOf(points);
  const [early, middle, last] = [g.early.min, g.middle.min, g.last.min];
  const perHour = ((last - middle) / (g.last.at - g.middle.at)) * 3600;
  const grows = middle > early && last - middle > Math.max(8 * MB, 0.05 * middle) && perHour > 384 * MB && last - middle >= 0.5 * (middle - early);
  const failure = grows ? `memory held by JavaScript grows without bound: +${(perHour / MB).toFixed(0)} MB/h (its floor ${showMB(early)}, ${showMB(middle)}, ${showMB(last)} in the three thirds)` : null;
  return { label: 'JS heap + Buffers', growth: g, show: showMB, failure };
}

function judgeFds(points: Point[]): Judged {
  const g = growthOf(points);
  const grows = g.slopePerHour > 0 && g.last.min > g.middle.max;
  const failure = grows ? `open descriptors grow without bound: +${g.slopePerHour.toFixed(0)}/h (the last third's fewest, ${g.last.min}, above the middle third's most, ${g.middle.max})` : null;
  return { label: 'open fds', growth: g, show: (v) => v.toFixed(0), failure };
}

function judgeLoopDelay(points: Point[]): Judged {
  const g = growthOf(points);
  // Sustained, not a few spikes: even the last third's lowest is above the middle third's median.
  const grows = g.last.median > 2 * g.middle.median && g.last.median > 0.05 && g.last.min > g.middle.median;
  const failure = grows ? `event-loop delay grows without bound: p99 ${(g.last.median * 1000).toFixed(0)} ms in the last third, ${(g.middle.median * 1000).toFixed(0)} ms in the middle one` : null;
  return { label: 'loop delay p99', growth: g, show: (v) => `${(v * 1000).toFixed(1)} ms`, failure };
}

/** The samples' trends, as a table; answers the failures (empty when none grows). */
export function judgeTrends(samples: SoakSamples): string[] {
  if (samples.rss.length < 12) {
    console.log(`only ${samples.rss.length} samples measured: too few to judge growth (at least 12)`);
    return [];
  }
  const judged = [
    judgeRss(samples.rss),
    judgeJsMemory(samples.jsMemory),
    judgeFds(samples.fds),
    judgeLoopDelay(samples.loopP99),
  ];
  const signed = (j: Judged, v: number) => `${v >= 0 ? '+' : '-'}${j.show(Math.abs(v))}`;
  table(
    ['metric', 'after warm-up', 'at end', 'growth', 'slope', 'last third slope', 'thirds: median (lowest)', 'verdict'],
    judged.map((j) => {
      const g = j.growth;
      const thirds = [g.early, g.middle, g.last].map((t) => `${j.show(t.median)} (${j.show(t.min)})`).join(', ');
      return [j.label, j.show(g.afterWarmUp), j.show(g.atEnd), signed(j, g.atEnd - g.afterWarmUp), `${signed(j, g.slopePerHour)}/h`, `${signed(j, g.lastSlopePerHour)}/h`, thirds, j.failure ? 'GROWS' : 'bounded'];
    }),
  );
  return judged.flatMap((j) => (j.failure ? [j.failure] : []));
}
