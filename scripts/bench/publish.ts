#!/usr/bin/env node
// Publish benchmark: the Gren registry and Verdaccio, the self-hosted npm registry, in
// alternating rounds (so that the machine's drift falls on both), ~30 KB bundles, from 1 client
// (latency) and from 8 (throughput), in three shapes of registry at each size; index.json reads
// while 8 clients publish; the disk's own flush costs measured beside; SIGKILL after each round
// and a count of what survived; with --before, the registry at an earlier commit too, in the
// same rounds. Prints figures; never a test.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { measureFloor } from './disk-floor.ts';
import { grenRound, type RoundOptions } from './gren-rounds.ts';
import { currentBuild } from './current-build.ts';
import { beforeBuild, type BeforeBuild } from './before-build.ts';
import type { RegistryBuild } from './registry-build.ts';
import { buildVerdaccioTemplate, installVerdaccio, verdaccioRound } from './verdaccio-rounds.ts';
import { WORKLOADS, type Workload } from './publish-workloads.ts';
import { cellKey, printBefore, printDurability, printFloor, printGoals, printReads, printStages, printWorkload, roundLine, type Cell, type Results } from './publish-report.ts';
import { cleanUpAtExit } from './process-tree.ts';
import { loadAverage, loaded, runLog } from './run-log.ts';
import { count } from './stats.ts';
import { ensureTools, installed } from './debian-tools.ts';
import type { Counts } from './publish-runs.ts';

const help = `Usage: node scripts/bench/publish.ts [options]

  --quick            A smoke run: 100 and 1,000 versions, one round, fewer publishes.
  --rounds N         Rounds (default 3; each measures every registry once at every size and workload).
  --sizes LIST       Versions held (default 100,10000). 100000 takes about ten more minutes of
                     filling and copying per round, and about 10 GB of disk.
  --workloads LIST   Among today, new-packages, many-authors (default: all three).
  --timings          Start the registry with LOG_TIMINGS=1 and print the median of each stage
                     of a publish, from its publish_timings log lines.
  --before REV       Also measure the registry as it was at commit REV (say 229262a, the last
                     before bundles moved to content refs), in the same rounds, and print this
                     build against it. Its code is extracted into .bench/ inside the project
                     (removed at the end), fills its own data folders and runs as its own
                     scripts/start.ts on the dependencies installed here.
  --no-peer          Skip Verdaccio.
  --peer-only        Only Verdaccio.
  --verdaccio DIR    Where Verdaccio is (or gets) installed (default: $TMPDIR/gren-bench-verdaccio).
  --dir DIR          Where the data folders go, and the disk's floor is measured (default: $TMPDIR).
  --reads-seconds N  Length of each index.json read measurement (default 5).

Figures taken on a loaded machine mean little: the load average is printed at the start and the end.
`;

const { values: options } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    rounds: { type: 'string' },
    sizes: { type: 'string' },
    workloads: { type: 'string' },
    timings: { type: 'boolean' },
    before: { type: 'string' },
    'no-peer': { type: 'boolean' },
    'peer-only': { type: 'boolean' },
    verdaccio: { type: 'string' },
    dir: { type: 'string' },
    'reads-seconds': { type: 'string' },
    help: { type: 'boolean' },
  },
});
if (options.help) {
  process.stdout.write(help);
  process.exit(0);
}
const quick = options.quick ?? false;
const rounds = Number(options.rounds ?? (quick ? 1 : 3));
const sizes = (options.sizes ?? (quick ? '100,1000' : '100,10000')).split(',').map(Number).sort((a, b) => a - b);
const workloads = options.workloads ? options.workloads.split(',').map(workloadNamed) : WORKLOADS;
const counts: Counts = quick ? { warm: 10, single: 60, perClient: 15 } : { warm: 20, single: 200, perClient: 50 };
const floorRepetitions = quick ? 50 : 200;
const readsSeconds = Number(options['reads-seconds'] ?? (quick ? 2 : 5));
const withGren = !options['peer-only'];
/** The size the goals are stated at: 10,000 versions, or the largest measured. */
const goalSize = sizes.includes(10_000) ? 10_000 : (sizes.at(-1) as number);
if (!(rounds >= 1) || sizes.some((n) => !(n >= 1))) throw new Error('--rounds and --sizes take positive numbers');
if (options.before !== undefined && !withGren) throw new Error('--before compares with this build: it cannot go with --peer-only');

function workloadNamed(key: string): Workload {
  const found = WORKLOADS.find((w) => w.key === key);
  if (!found) throw new Error(`--workloads: "${key}" is none of ${WORKLOADS.map((w) => w.key).join(', ')}`);
  return found;
}

let before: BeforeBuild | null = null;
const work = fs.mkdtempSync(path.join(options.dir ? path.resolve(options.dir) : os.tmpdir(), 'gren-bench-publish-'));
// Whatever happens (an error, Ctrl-C), no server of the run outlives it, nor its data.
cleanUpAtExit(() => {
  fs.rmSync(work, { recursive: true, force: true });
  before?.remove();
});
if (options.before !== undefined) before = beforeBuild(options.before);
/** The builds of the registry measured: this one, and the earlier one when asked for. */
const builds: RegistryBuild[] = withGren ? [currentBuild, ...(before ? [before] : [])] : [];

const { stamp, say, timed } = runLog();
const load = loadAverage;

/** Fills one data folder per registry, workload and size, before the rounds. */
async function buildTemplates(verdaccio: string | null): Promise<void> {
  for (const workload of workloads) {
    for (const versions of sizes) {
      const parts: string[] = [];
      for (const build of builds) parts.push(`${build.label} ${(await timed(() => build.fill(template(build.key, workload, versions), workload, versions))).seconds} s`);
      if (verdaccio) parts.push(`Verdaccio ${(await timed(() => buildVerdaccioTemplate(template('verdaccio', workload, versions), workload, versions))).seconds} s`);
      say(`filled ${workload.key}, ${count(versions)} versions: ${parts.join(', ')}`);
    }
  }
}

const template = (registry: string, workload: Workload, versions: number) => path.join(work, `${registry}-${workload.key}-${versions}`);

/** One registry's round, kept in its cell, and its progress line. */
async function registryRound(build: RegistryBuild, cell: Cell, options: RoundOptions): Promise<void> {
  const r = await grenRound(build, template(build.key, options.workload, options.versions), options);
  cell[build.key].push(r);
  const readsText = r.reads ? `; reads ${r.reads.idle.requestsPerSecond.toFixed(0)}/s idle, ${r.reads.loaded.requestsPerSecond.toFixed(0)}/s publishing` : '';
  say(`  ${options.workload.key}, ${count(options.versions)}: ${build.label}  ${roundLine(r)}${readsText}; ${r.durability.whole}/${r.durability.acknowledged} whole after SIGKILL`);
}

/** One round: the floor, then every workload and size, the registries back to back, their order reversed every other round. */
async function round(n: number, verdaccio: string | null, results: Results): Promise<void> {
  const floor = measureFloor(work, floorRepetitions);
  results.floors.push(floor);
  say(`round ${n + 1}/${rounds} (load ${load()}): floor fdatasync ${floor.fdatasync.toFixed(2)} ms, create+flush ${floor.create.toFixed(2)} ms, rename+flush ${floor.rename.toFixed(2)} ms`);
  for (const workload of workloads) {
    for (const versions of sizes) {
      const cell = results.cells.get(cellKey(workload, versions)) as Cell;
      const reads = workload.key === 'today' && versions === goalSize && installed('wrk') ? readsSeconds : null;
      const roundOptions: RoundOptions = { workload, versions, counts, work, timings: options.timings ?? false, readsSeconds: reads };
      // Reads under publishing are this build's figure; the earlier build is measured for its publishes alone.
      const sides = builds.map((build) => () => registryRound(build, cell, build === currentBuild ? roundOptions : { ...roundOptions, readsSeconds: null }));
      if (verdaccio) {
        sides.push(async () => {
          const r = await verdaccioRound(verdaccio, template('verdaccio', workload, versions), roundOptions);
          cell.verdaccio.push(r);
          say(`  ${workload.key}, ${count(versions)}: Verdaccio ${roundLine(r)}`);
        });
      }
      for (const side of n % 2 === 0 ? sides : sides.reverse()) await side();
    }
  }
}

async function main(): Promise<void> {
  process.stdout.write(`Publish benchmark: ~30 KB bundles, ${os.cpus().length} cores, Node ${process.version}, data in ${work}\n`);
  process.stdout.write(`${rounds} round(s); sizes ${sizes.map(count).join(', ')}; 1 client ${counts.single} publishes, 8 clients ${counts.perClient} each, after ${counts.warm} to warm up\n`);
  process.stdout.write(`load average at the start: ${load()}${loaded() ? ' (a loaded machine: take the figures with care)' : ''}\n\n`);
  const verdaccio = options['no-peer'] ? null : installVerdaccio(options.verdaccio ? path.resolve(options.verdaccio) : path.join(os.tmpdir(), 'gren-bench-verdaccio'));
  if (withGren) {
    try {
      ensureTools(['wrk']);
    } catch {
      process.stdout.write('wrk could not be installed: no reads under publishing\n');
    }
  }
  const results: Results = { cells: new Map(), floors: [] };
  for (const workload of workloads) for (const versions of sizes) results.cells.set(cellKey(workload, versions), { gren: [], before: [], verdaccio: [] });
  await buildTemplates(verdaccio);
  for (let n = 0; n < rounds; n++) await round(n, verdaccio, results);

  process.stdout.write(`\nMedians of the ${rounds} round(s) (lowest–highest round); 1 client: median latency, publishes/s; 8 clients: publishes/s, median latency\n`);
  process.stdout.write('Verdaccio writes each file to a temporary name and renames it, without flushing to disk: its publishes are not durable against a power cut.\n');
  for (const workload of workloads) printWorkload(workload, sizes, results, before?.label ?? null);
  printGoals(workloads, sizes, goalSize, results);
  if (before) printBefore(workloads, sizes, before.label, results);
  const today = results.cells.get(cellKey(workloads.find((w) => w.key === 'today') ?? (workloads[0] as Workload), goalSize));
  if (today) printReads(today.gren, `today, ${count(goalSize)} versions held`);
  printFloor(results.floors);
  printDurability(results, builds);
  if (options.timings) printStages(workloads, sizes, results);
  process.stdout.write(`\nload average at the end: ${load()}; ${stamp()} in all\n`);
}

await main();
