import type { Floor } from './disk-floor.ts';
import type { GrenRound } from './gren-rounds.ts';
import type { RegistryBuild } from './registry-build.ts';
import { figures, type RoundRuns } from './publish-runs.ts';
import { printTimings } from './publish-timings.ts';
import type { Workload } from './publish-workloads.ts';
import { count, median } from './stats.ts';

/** Every round of one workload at one size: the Gren registry's, an earlier build's (when asked for) and Verdaccio's, in round order. */
export type Cell = { gren: GrenRound[]; before: GrenRound[]; verdaccio: RoundRuns[] };
export type Results = { cells: Map<string, Cell>; floors: Floor[] };

export const cellKey = (workload: Workload, versions: number) => `${workload.key}@${versions}`;

const out = (text: string) => process.stdout.write(text);
const fixed = (n: number) => n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0);

/** The median of the rounds' values, and their spread (lowest to highest) when there is more than one. */
function spread(values: number[], unit = ''): string {
  if (values.length === 0) return '-';
  const m = `${fixed(median(values))}${unit}`;
  return values.length === 1 ? m : `${m} (${fixed(Math.min(...values))}–${fixed(Math.max(...values))})`;
}

/** One client: its median latency and its publishes a second; eight clients: publishes a second, then the median latency. */
function cellText(rounds: RoundRuns[], which: 'single' | 'parallel'): string {
  if (rounds.length === 0) return '-';
  const f = rounds.map((r) => figures(r[which]));
  const latency = spread(f.map((x) => x.median), ' ms');
  const rate = spread(f.map((x) => x.perSecond), '/s');
  return which === 'single' ? `${latency}, ${rate}` : `${rate}, ${latency}`;
}

/** The progress line of one registry's round. */
export function roundLine(runs: RoundRuns): string {
  const [one, eight] = [figures(runs.single), figures(runs.parallel)];
  return `1 client ${fixed(one.median)} ms (p99 ${fixed(one.p99)}), ${fixed(one.perSecond)}/s; 8 clients ${fixed(eight.perSecond)}/s (median ${fixed(eight.median)} ms, p99 ${fixed(eight.p99)})`;
}

/** One row per size and registry measured: one client, then eight. */
export function printWorkload(workload: Workload, sizes: number[], results: Results, beforeLabel: string | null): void {
  out(`\n${workload.title}\n`);
  const rows = sizes.flatMap((versions) => {
    const cell = results.cells.get(cellKey(workload, versions)) as Cell;
    const contenders: Array<[string, RoundRuns[]]> = [['registry', cell.gren], [beforeLabel ?? '', cell.before], ['Verdaccio', cell.verdaccio]];
    return contenders.filter(([, rounds]) => rounds.length > 0).map(([label, rounds]) => [count(versions), label, cellText(rounds, 'single'), cellText(rounds, 'parallel')]);
  });
  const head = ['held', '', '1 client', '8 clients'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  for (const row of [head, ...rows]) out(`  ${row.map((c, i) => c.padEnd(widths[i] as number)).join('   ')}\n`);
}

/** A ratio round by round (the two sides measured back to back), as the median and spread of the rounds. */
function paired(a: number[], b: number[]): string {
  const ratios = a.map((x, i) => x / (b[i] as number)).filter((x) => Number.isFinite(x));
  return ratios.length === 0 ? '-' : spread(ratios, 'x');
}

const singleMedians = (rounds: RoundRuns[]) => rounds.map((r) => figures(r.single).median);
const singleP99s = (rounds: RoundRuns[]) => rounds.map((r) => figures(r.single).p99);
const parallelRates = (rounds: RoundRuns[]) => rounds.map((r) => figures(r.parallel).perSecond);

/** The ratios the goals name, for each workload: at `goalSize` against Verdaccio, and each size against the smallest. */
export function printGoals(workloads: Workload[], sizes: number[], goalSize: number, results: Results): void {
  const cell = (w: Workload, versions: number) => results.cells.get(cellKey(w, versions)) as Cell;
  const smallest = sizes[0] as number;
  out(`\nGoals (ratios taken round by round, then the median of the rounds and their spread)\n`);
  for (const w of workloads) {
    const at = cell(w, goalSize);
    out(`  ${w.key}:\n`);
    if (at.verdaccio.length > 0 && at.gren.length > 0) {
      out(`    1 client at ${count(goalSize)}, registry median / Verdaccio median: ${paired(singleMedians(at.gren), singleMedians(at.verdaccio))} (goal: at most 0.5x)\n`);
      out(`    8 clients at ${count(goalSize)}, registry throughput / Verdaccio throughput: ${paired(parallelRates(at.gren), parallelRates(at.verdaccio))} (goal: at least 2x)\n`);
    }
    for (const versions of sizes.slice(1)) {
      if (at.gren.length === 0) break;
      out(`    registry 1-client median at ${count(versions)} / at ${count(smallest)}: ${paired(singleMedians(cell(w, versions).gren), singleMedians(cell(w, smallest).gren))} (goal: within 1.2x)\n`);
    }
  }
}

/** index.json reads while eight clients publish, against the idle registry. */
export function printReads(rounds: GrenRound[], label: string): void {
  const reads = rounds.flatMap((r) => (r.reads ? [r.reads] : []));
  if (reads.length === 0) return;
  const idle = reads.map((r) => r.idle.requestsPerSecond);
  const loaded = reads.map((r) => r.loaded.requestsPerSecond);
  out(`\nReads while publishing (${label}; wrk, 4 connections, the index.json files of the packages being published, in turn)\n`);
  out(`  idle: ${spread(idle, ' reads/s')}, p99 ${spread(reads.map((r) => r.idle.p99), ' ms')}\n`);
  out(`  while 8 clients publish (${spread(reads.map((r) => r.publishesPerSecond), ' publishes/s')}): ${spread(loaded, ' reads/s')}, p99 ${spread(reads.map((r) => r.loaded.p99), ' ms')}\n`);
  out(`  reads while publishing / idle: ${paired(loaded, idle)} (goal: at least 0.8x)\n`);
  const failures = reads.reduce((n, r) => n + r.idle.failures + r.loaded.failures, 0);
  if (failures > 0) out(`  failed reads: ${failures}\n`);
  const late = rounds.reduce((n, r) => n + r.late, 0);
  if (late > 0) out(`  note: ${late} publishes of the reads runs made their bundle while the clock ran\n`);
}

export function printFloor(floors: Floor[]): void {
  const of = (key: keyof Floor) => spread(floors.map((f) => f[key]), ' ms');
  out(`\nThe floor: what this disk charges, in the data's folder, in this run (median of each round's median)\n`);
  out(`  fdatasync of a new 30 KB file: ${of('fdatasync')}; create a file + flush its folder: ${of('create')}; rename + flush the folder: ${of('rename')}\n`);
  out(`  the three together: ${spread(floors.map((f) => f.fdatasync + f.create + f.rename), ' ms')}\n`);
}

/** How many acknowledged publishes each registry's rounds left whole after their SIGKILL. */
export function printDurability(results: Results, builds: RegistryBuild[]): void {
  for (const build of builds) {
    const rounds = [...results.cells.values()].flatMap((c) => c[build.key]);
    if (rounds.length === 0) continue;
    const acknowledged = rounds.reduce((n, r) => n + r.durability.acknowledged, 0);
    const whole = rounds.reduce((n, r) => n + r.durability.whole, 0);
    out(`\nDurability: the ${build.label} killed with SIGKILL after each of its ${rounds.length} rounds; ${count(whole)} of ${count(acknowledged)} acknowledged publishes whole (git: ${build.wholeMeans})\n`);
  }
}

/**
 * This build against an earlier one, measured in the same rounds, for each workload and size
 * both were measured at: median and p99 latency from one client, throughput from eight, and
 * their ratios (this build / the earlier), against the target of at most 15% slower.
 */
export function printBefore(workloads: Workload[], sizes: number[], label: string, results: Results): void {
  out(`\nAgainst the ${label} (this build / the earlier one, taken round by round, then the median of the rounds and their spread; target: at most +15%)\n`);
  for (const w of workloads) {
    for (const versions of sizes) {
      const { gren, before } = results.cells.get(cellKey(w, versions)) as Cell;
      if (gren.length === 0 || before.length === 0) continue;
      const line = (what: string, of: (rounds: RoundRuns[]) => number[], unit: string, target: string) =>
        out(`    ${what}: ${spread(of(gren), unit)} against ${spread(of(before), unit)}: ${paired(of(gren), of(before))} (target: ${target})\n`);
      out(`  ${w.key}, ${count(versions)} versions held:\n`);
      line('1 client, median latency', singleMedians, ' ms', 'at most 1.15x');
      line('1 client, p99 latency', singleP99s, ' ms', 'at most 1.15x');
      line('8 clients, throughput', parallelRates, '/s', 'at least 0.87x, the same 15% in time per publish');
    }
  }
}

/** The registry's own breakdown of each publish (LOG_TIMINGS=1), per workload: one column per size and client count. */
export function printStages(workloads: Workload[], sizes: number[], results: Results): void {
  let any = false;
  for (const w of workloads) {
    const columns = sizes.flatMap((versions) => {
      const rounds = (results.cells.get(cellKey(w, versions)) as Cell).gren;
      return (['single', 'parallel'] as const).map((which) => ({ label: `${count(versions)} ×${which === 'single' ? 1 : 8}`, lines: rounds.flatMap((r) => r.timings[which]) }));
    });
    if (columns.some((c) => c.lines.length > 0)) any = true;
    printTimings(`Where the time goes, ${w.key} (publish_timings)`, columns);
  }
  if (!any) out('\nNo publish_timings lines: this registry does not log where a publish\'s time goes (LOG_TIMINGS).\n');
}
