#!/usr/bin/env node
// Clone benchmark: a plain `git clone <registry>/index.git` of a registry holding 10,000
// versions, this build (main holds the metadata; Git's smart HTTP protocol) against the registry
// at an earlier commit that kept every bundle in main's tree (served over Git's dumb HTTP
// protocol), in alternating rounds; and `git clone --mirror` of this build, which fetches the
// content refs too. Requests and bytes are counted by one proxy per registry, the same code for
// both. Prints figures; never a test.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { beforeBuild, type BeforeBuild } from './before-build.ts';
import { currentBuild } from './current-build.ts';
import { measureClone, type CloneFigures } from './clone-run.ts';
import { startCountingProxy, type CountingProxy } from './counting-proxy.ts';
import { HELD_PADDING } from './held-bundles.ts';
import { cleanUpAtExit, descendants, killAll, waitUntilQuiet } from './process-tree.ts';
import { WORKLOADS } from './publish-workloads.ts';
import { spawnBuild, type RegistryBuild } from './registry-build.ts';
import { loadAverage, loaded, runLog } from './run-log.ts';
import { killNow, waitUntilAnswering, type ServerProcess } from './server-process.ts';
import { count, median, size, table } from './stats.ts';
import { freePort } from '../../test/helpers/registry.ts';

/** The last commit before bundles and source trees moved off main onto refs of their own. */
const DEFAULT_BEFORE = '229262a';

const help = `Usage: node scripts/bench/clone.ts [options]

  --before REV     The earlier build to compare with (default ${DEFAULT_BEFORE}, the last commit
                   before bundles and source trees moved off main onto refs of their own; it
                   must be one that keeps bundles in main's tree). Its code is extracted into
                   .bench/ inside the project (removed at the end) and runs as its own
                   scripts/start.ts on the dependencies installed here.
  --versions N     Versions each registry holds (default 10000), in the publish benchmark's
                   "today" shape: the same packages and versions in both.
  --padding BYTES  About how much each bundle weighs, gzip'd (default ${HELD_PADDING}, as the publish
                   benchmark fills; the real bundles in test/fixtures/bundles weigh 2 to 120 KB,
                   21 KB the median).
  --rounds N       Rounds (default 5); each clones from both registries, the order reversed
                   every other round, after one clone of each that is not counted.
  --dir DIR        Where the data folders and clones go (default: $TMPDIR).

Figures taken on a loaded machine mean little: the load average is printed at the start and the end.
`;

const { values: options } = parseArgs({
  options: { before: { type: 'string' }, versions: { type: 'string' }, padding: { type: 'string' }, rounds: { type: 'string' }, dir: { type: 'string' }, help: { type: 'boolean' } },
});
if (options.help) {
  process.stdout.write(help);
  process.exit(0);
}
const versions = Number(options.versions ?? 10_000);
const padding = Number(options.padding ?? HELD_PADDING);
const rounds = Number(options.rounds ?? 5);
for (const [name, value, least] of [['--versions', versions, 1], ['--padding', padding, 0], ['--rounds', rounds, 1]] as const) {
  if (!Number.isInteger(value) || value < least) throw new Error(`${name} takes a whole number of at least ${least}`);
}
const workload = WORKLOADS.find((w) => w.key === 'today') as (typeof WORKLOADS)[number];

let before: BeforeBuild | null = null;
const work = fs.mkdtempSync(path.join(options.dir ? path.resolve(options.dir) : os.tmpdir(), 'gren-bench-clone-'));
cleanUpAtExit(() => {
  fs.rmSync(work, { recursive: true, force: true });
  before?.remove();
});
const { stamp, say, timed } = runLog();
before = beforeBuild(options.before ?? DEFAULT_BEFORE);

/** A registry running for the whole run, behind its counting proxy. */
type Running = { build: RegistryBuild; server: ServerProcess; proxy: CountingProxy };

/** One kind of clone measured: which registry, plain or mirror, and its figures round by round. */
type Contender = { label: string; running: Running; mirror: boolean; figures: CloneFigures[] };

/** Git maintenance a registry runs in the background: what a clone must not meet half-way. */
const isMaintenance = (args: string[]) => args.some((arg) => /(^|\/)git$/.test(arg)) && args.some((arg) => ['repack', 'prune', 'gc', 'maintenance'].includes(arg));

/**
 * Starts `build` on its filled data folder as `npm start` runs it, waits until it answers and
 * until the Git maintenance its start-up began (if any) has ended, and puts a proxy in front.
 */
async function start(build: RegistryBuild, dir: string): Promise<Running> {
  const port = await freePort();
  const server = spawnBuild(build, dir, port);
  await waitUntilAnswering(`http://127.0.0.1:${port}/healthz`, server);
  const busy = await waitUntilQuiet(server.child.pid as number, isMaintenance, { quietMs: 3000, timeoutMs: 600_000 });
  say(`started the ${build.label}; ${busy === 0 ? 'no Git maintenance ran in the 3 s after it answered' : `its Git maintenance ran until ${(busy / 1000).toFixed(1)} s after it answered`}`);
  return { build, server, proxy: await startCountingProxy(`http://127.0.0.1:${port}`) };
}

/** Stops a registry and whatever it started (its Git helpers), and its proxy. */
async function stop({ server, proxy }: Running): Promise<void> {
  const below = descendants(server.child.pid as number);
  await killNow(server.child);
  killAll(below);
  await proxy.close();
}

function roundLine(c: Contender, f: CloneFigures): string {
  const writing = c.mirror ? '' : ` (${f.checkout.toFixed(2)} s writing files)`;
  return `  ${c.label}: ${f.seconds.toFixed(2)} s${writing}, ${f.requests} requests, ${size(f.received)} received, ${size(f.sent)} sent, ${size(f.disk)} on disk`;
}

async function cloneOnce(c: Contender, n: number): Promise<CloneFigures> {
  return measureClone(c.running.proxy, path.join(work, `clone-${n}`), c.mirror);
}

/** What one figure of each contender's rounds is: their median, and the lowest–highest when they differ. */
function spread(values: number[], show: (n: number) => string): string {
  const [low, high] = [show(Math.min(...values)), show(Math.max(...values))];
  return low === high ? low : `${show(median(values))} (${low}–${high})`;
}

/** The requests of one clone, the first twelve. */
function requestsOf(c: Contender): string {
  const asked = (c.figures.at(-1) as CloneFigures).asked;
  const shown = asked.slice(0, 12).map((line) => `    ${line}`);
  if (asked.length > shown.length) shown.push(`    … and ${count(asked.length - shown.length)} more`);
  return `  ${c.label}:\n${shown.join('\n')}\n`;
}

function ratio(of: Contender, to: Contender, figure: (f: CloneFigures) => number): string {
  const a = median(of.figures.map(figure));
  const b = median(to.figures.map(figure));
  return b === 0 ? '–' : `${(a / b).toFixed(a / b < 10 ? 2 : 0)}x`;
}

const seconds = (f: CloneFigures) => f.seconds;
const fetching = (f: CloneFigures) => f.seconds - f.checkout;

function report(contenders: Contender[]): void {
  const of = (c: Contender, figure: (f: CloneFigures) => number) => c.figures.map(figure);
  const last = (c: Contender) => c.figures.at(-1) as CloneFigures;
  process.stdout.write(`\nOver HTTP: medians of ${rounds} round(s), lowest–highest where they differ; seconds from start to exit, of which fetching (the rest: writing the work tree)\n`);
  table(
    ['clone', 'requests', 'received', 'sent', 'seconds', 'fastest', 'fetching', 'writing files'],
    contenders.map((c) => [c.label, spread(of(c, (f) => f.requests), count), spread(of(c, (f) => f.received), size), spread(of(c, (f) => f.sent), size), median(of(c, seconds)).toFixed(2), Math.min(...of(c, seconds)).toFixed(2), median(of(c, fetching)).toFixed(2), c.mirror ? '–' : median(of(c, (f) => f.checkout)).toFixed(2)]),
  );
  process.stdout.write('\nWhat each clone leaves: on disk (du, work tree included), its repository alone, objects (loose and packed), files checked out, bundles among them, refs\n');
  table(
    ['clone', 'disk', 'repository', 'objects', 'files', 'bundles', 'refs'],
    contenders.map((c) => [c.label, size(last(c).disk), size(last(c).repository), count(last(c).objects), count(last(c).files), count(last(c).bundles), count(last(c).refs)]),
  );
  process.stdout.write(`\nThe requests of each one's last clone (method, path, status):\n${contenders.map(requestsOf).join('')}`);
  const [plain, mirror, old] = contenders as [Contender, Contender, Contender];
  const ratios = (a: Contender, b: Contender) =>
    `requests ${ratio(a, b, (f) => f.requests)}, bytes received ${ratio(a, b, (f) => f.received)}, seconds ${ratio(a, b, seconds)} (fetching ${ratio(a, b, fetching)}), disk ${ratio(a, b, (f) => f.disk)}, repository ${ratio(a, b, (f) => f.repository)}`;
  process.stdout.write(`\nBefore / now, plain clone: ${ratios(old, plain)}\n`);
  process.stdout.write(`Mirror now / plain clone before: ${ratios(mirror, old)}\n`);
}

async function main(): Promise<void> {
  const earlier = before as BeforeBuild;
  process.stdout.write(`Clone benchmark: ${count(versions)} versions, bundles of about ${size(padding)} gzip'd, ${os.cpus().length} cores, Node ${process.version}, data in ${work}\n`);
  process.stdout.write(`load average at the start: ${loadAverage()}${loaded() ? ' (a loaded machine: take the figures with care)' : ''}\n\n`);
  const running: Running[] = [];
  try {
    for (const build of [currentBuild, earlier]) {
      const dir = path.join(work, build.key);
      say(`filled the ${build.label} in ${(await timed(() => build.fill(dir, workload, versions, padding))).seconds} s`);
      running.push(await start(build, dir));
    }
    const [now, then] = running as [Running, Running];
    const contenders: Contender[] = [
      { label: 'now, plain clone (main)', running: now, mirror: false, figures: [] },
      { label: 'now, --mirror (main and content refs)', running: now, mirror: true, figures: [] },
      { label: `before (${options.before ?? DEFAULT_BEFORE}), plain clone`, running: then, mirror: false, figures: [] },
    ];
    let n = 0;
    for (const c of contenders) say(`warm-up, not counted: ${roundLine(c, await cloneOnce(c, n++)).trim()}`);
    for (let round = 0; round < rounds; round++) {
      say(`round ${round + 1}/${rounds} (load ${loadAverage()})`);
      for (const c of round % 2 === 0 ? contenders : [...contenders].reverse()) {
        const figures = await cloneOnce(c, n++);
        c.figures.push(figures);
        say(roundLine(c, figures));
      }
    }
    report(contenders);
  } finally {
    for (const r of running) await stop(r);
  }
  process.stdout.write(`\nload average at the end: ${loadAverage()}; ${stamp()} in all\n`);
}

await main();
