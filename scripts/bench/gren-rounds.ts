import fs from 'node:fs';
import path from 'node:path';
import { bundle } from '../../test/helpers/bundle.ts';
import { dataPaths } from '../../gateway/registry.ts';
import { packagePaths } from '../../gateway/packages/version-index.ts';
import { stopStaleRepack } from '../../index-repo/maintenance.ts';
import { CLIENTS, DEPENDENCY, type HeldPackage, type RunName, type Target, type Workload } from './publish-workloads.ts';
import { preparedPublisher, standardRuns, type Counts, type Publisher, type RoundRuns } from './publish-runs.ts';
import { readsUnderLoad, type ReadsResult } from './reads-under-load.ts';
import { timingCollector, type TimingLine } from './publish-timings.ts';
import { freePort } from '../../test/helpers/registry.ts';
import { killNow, waitUntilAnswering } from './server-process.ts';
import { copyFolder } from './copy-folder.ts';
import { spawnBuild, type Acknowledged, type Durability, type RegistryBuild, type RoundTokens } from './registry-build.ts';

/** The most publishes each client of the reads run makes. */
const READS_EACH_MAX = 1000;

export type GrenRound = RoundRuns & {
  reads: ReadsResult | null;
  /** The `publish_timings` lines of the one-client and eight-client runs (empty unless asked for). */
  timings: Record<'single' | 'parallel', TimingLine[]>;
  durability: Durability;
  /** Publishes whose body was made while the clock ran (the reads run outlasting its prepared bodies). */
  late: number;
};

export type RoundOptions = {
  workload: Workload;
  versions: number;
  counts: Counts;
  /** The folder the round's data goes in. */
  work: string;
  /** Start the registry with LOG_TIMINGS=1 and keep its `publish_timings` lines. */
  timings: boolean;
  /** Measure index.json reads while eight clients publish, for this long (s); null: not in this round. */
  readsSeconds: number | null;
};

/** The authors of every publish the round may make, whose tokens are minted before it starts. */
function roundAuthors(options: RoundOptions): string[] {
  const { counts, workload, versions } = options;
  const runs: Array<[RunName, number, number]> = [['warm', 1, counts.warm], ['single', 1, counts.single], ['parallel', CLIENTS, counts.perClient]];
  if (options.readsSeconds !== null) runs.push(['reads', CLIENTS, READS_EACH_MAX]);
  const authors = new Set<string>();
  for (const [run, clients, count] of runs) {
    for (let client = 0; client < clients; client++) for (let i = 0; i < count; i++) authors.add(workload.target(versions, run, client, i).author);
  }
  return [...authors];
}

/** Publishes ~30 KB bundles, each depending on `DEPENDENCY`, with a publish token of its author's identity. */
function grenPublisher(url: string, options: RoundOptions, tokens: RoundTokens, acknowledged: Acknowledged[]): Publisher {
  const deps = { [`${DEPENDENCY.author}/${DEPENDENCY.name}`]: '1.0.0 <= v < 2.0.0' };
  return preparedPublisher({
    target: (run, client, i) => options.workload.target(options.versions, run, client, i),
    prepareOne: (t: Target) => {
      const name = `${t.author}/${t.name}`;
      return { token: tokens.tokenFor(t.author), body: bundle({ name, version: t.version, deps, padding: 30_000, summary: `Benchmark package ${name}` }) };
    },
    send: async (t, { token, body }, run) => {
      const name = `${t.author}/${t.name}`;
      const res = await fetch(`${url}/packages/${name}/${t.version}`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/gzip' }, body });
      const text = await res.text();
      if (res.status !== 201) throw new Error(`publish ${name} ${t.version}: ${res.status} ${text}`);
      acknowledged.push({ name, version: t.version, run });
    },
  });
}

/** Fails unless the registry's static index lists every version the template holds of its last package. */
async function checkHeld(url: string, build: RegistryBuild, options: RoundOptions): Promise<void> {
  const last = options.workload.held(options.versions).at(-1) as HeldPackage;
  const name = `${last.author}/${last.name}`;
  const res = await fetch(`${url}/index/${packagePaths(name).index}`);
  const listed = res.status === 200 ? ((await res.json()) as { versions: unknown[] }).versions.length : 0;
  if (listed !== last.versions.length) throw new Error(`the ${build.label} lists ${listed} versions of ${name} (status ${res.status}), not the ${last.versions.length} filled`);
}

/** The timing lines of one run's publishes, matched by package and version. */
function timingsOf(lines: TimingLine[], acknowledged: Acknowledged[], run: RunName): TimingLine[] {
  const ofRun = new Set(acknowledged.filter((a) => a.run === run).map((a) => `${a.name}@${a.version}`));
  return lines.filter((line) => ofRun.has(`${line.package}@${line.version}`));
}

/** The index.json files of the packages the reads run publishes to, as URL paths. */
function readPaths(options: RoundOptions): string[] {
  const names = new Set<string>();
  for (let client = 0; client < CLIENTS; client++) {
    for (let i = 0; i < 10; i++) {
      const t = options.workload.target(options.versions, 'reads', client, i);
      names.add(`${t.author}/${t.name}`);
    }
  }
  return [...names].map((name) => `/index/${packagePaths(name).index}`);
}

/**
 * One round of `build` on a copy of its template: the registry as `npm start` runs it, the
 * warm-up, one client, eight clients, reads under publishing when asked; then SIGKILL, and
 * `git` counts the acknowledged publishes that are whole.
 */
export async function grenRound(build: RegistryBuild, template: string, options: RoundOptions): Promise<GrenRound> {
  const dir = path.join(options.work, `${build.key}-round`);
  copyFolder(template, dir);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const tokens = await build.tokens(dir, roundAuthors(options));
  const acknowledged: Acknowledged[] = [];
  const lines: TimingLine[] = [];
  const timings = options.timings && build.logsTimings;
  const server = spawnBuild(build, dir, port, timings ? { env: { LOG_TIMINGS: '1' }, onLine: timingCollector(lines) } : {});
  let runs: RoundRuns;
  let late = 0;
  let reads: ReadsResult | null = null;
  try {
    await waitUntilAnswering(`${url}/healthz`, server);
    await checkHeld(url, build, options);
    const publisher = grenPublisher(url, options, tokens, acknowledged);
    runs = await standardRuns(publisher, options.counts);
    if (options.readsSeconds !== null) {
      // Bodies for about twice what eight clients published a second, for as long as the reads last.
      const perSecond = runs.parallel.latencies.length / runs.parallel.seconds;
      const each = Math.min(READS_EACH_MAX, Math.ceil((perSecond * (options.readsSeconds + 1) * 2) / CLIENTS));
      publisher.prepare('reads', CLIENTS, each);
      reads = await readsUnderLoad({ base: url, paths: readPaths(options), work: options.work, seconds: options.readsSeconds, connections: 4, clients: CLIENTS, publish: (client, i) => publisher.publish('reads', client, i) });
    }
    late = publisher.late();
  } finally {
    await killNow(server.child);
    await tokens.close();
  }
  const durability = build.durable(dir, acknowledged);
  await stopStaleRepack(dataPaths(dir).publicGit);
  fs.rmSync(dir, { recursive: true, force: true });
  return { ...runs, reads, durability, late, timings: { single: timingsOf(lines, acknowledged, 'single'), parallel: timingsOf(lines, acknowledged, 'parallel') } };
}
