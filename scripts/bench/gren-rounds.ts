import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { bundle } from '../../test/helpers/bundle.ts';
import { systemClock } from '../../gateway/clock.ts';
import { loadConfig } from '../../gateway/config.ts';
import { dataPaths } from '../../gateway/registry.ts';
import { openAccounts } from '../../gateway/accounts/accounts.ts';
import { packagePaths } from '../../gateway/packages/version-index.ts';
import { stopStaleRepack } from '../../index-repo/maintenance.ts';
import { openPublishAccess, type PublishAccess } from '../admin/publish-access.ts';
import { quietLogger } from '../admin/ops-cli.ts';
import { fillPackages } from './fill.ts';
import { CLIENTS, DEPENDENCY, type RunName, type Target, type Workload } from './publish-workloads.ts';
import { preparedPublisher, standardRuns, type Counts, type Publisher, type RoundRuns } from './publish-runs.ts';
import { readsUnderLoad, type ReadsResult } from './reads-under-load.ts';
import { timingCollector, type TimingLine } from './publish-timings.ts';
import { freePort } from '../../test/helpers/registry.ts';
import { killNow, spawnServer, waitUntilAnswering } from './server-process.ts';
import { copyFolder } from './copy-folder.ts';

const repoRoot = path.resolve(import.meta.dirname, '../..');
/** The public address the registry names in its index; the same for every round, so that no round starts with a commit of its own. */
const PUBLIC_URL = 'http://registry.bench.example';
const ADMIN = 'bench@example.com';
const log = quietLogger();

/** One publish the registry acknowledged, and the run it belongs to. */
type Acknowledged = { name: string; version: string; run: RunName };

export type GrenRound = RoundRuns & {
  reads: ReadsResult | null;
  /** The `publish_timings` lines of the one-client and eight-client runs (empty unless asked for). */
  timings: Record<'single' | 'parallel', TimingLine[]>;
  durability: { acknowledged: number; whole: number };
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

/**
 * A data folder holding what `workload` holds at `versions` versions, filled through the index
 * repository (see fill.ts; ~1.5 KB bundles) and packed, with a publishing identity for every
 * author, `bench@example.com` its admin. Each round works on a copy of it.
 */
export async function buildGrenTemplate(dir: string, workload: Workload, versions: number): Promise<void> {
  const held = workload.held(versions);
  const packages = function* () {
    for (const pkg of held) {
      const name = `${pkg.author}/${pkg.name}`;
      yield { name, versions: pkg.versions.map((version) => ({ version, bytes: bundle({ name, version, padding: 1500, summary: `Benchmark package ${name}` }) })) };
    }
  };
  await fillPackages(loadConfig({ REGISTRY_DATA: dir, REGISTRY_URL: PUBLIC_URL }), packages());
  const accounts = openAccounts({ file: dataPaths(dir).accounts, clock: systemClock, log });
  try {
    accounts.users.ensure(ADMIN);
    for (const author of new Set(held.map((p) => p.author))) accounts.identities.create(author, ADMIN);
  } finally {
    accounts.close();
  }
}

/** Publishes ~30 KB bundles, each depending on `DEPENDENCY`, with a publish token of its author's identity. */
function grenPublisher(url: string, options: RoundOptions, access: PublishAccess, acknowledged: Acknowledged[]): Publisher {
  const deps = { [`${DEPENDENCY.author}/${DEPENDENCY.name}`]: '1.0.0 <= v < 2.0.0' };
  const tokenOf = (author: string) => {
    const grant = access.tokenFor(author);
    if (!('token' in grant)) throw new Error(grant.refused);
    return grant.token;
  };
  return preparedPublisher({
    target: (run, client, i) => options.workload.target(options.versions, run, client, i),
    prepareOne: (t: Target) => {
      const name = `${t.author}/${t.name}`;
      return { token: tokenOf(t.author), body: bundle({ name, version: t.version, deps, padding: 30_000, summary: `Benchmark package ${name}` }) };
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

/** After a kill -9: how many acknowledged publishes `git` finds whole: gren.json on main, bundle and tag on their refs. */
function checkDurable(dataDir: string, acknowledged: Acknowledged[]): { acknowledged: number; whole: number } {
  const gitDir = dataPaths(dataDir).publicGit;
  const tree = new Set(execFileSync('git', ['--git-dir', gitDir, 'ls-tree', '-r', '--name-only', 'main'], { maxBuffer: 1 << 30 }).toString().split('\n'));
  const refs = new Set(execFileSync('git', ['--git-dir', gitDir, 'for-each-ref', '--format=%(refname)', 'refs/namespaces/'], { maxBuffer: 1 << 30 }).toString().split('\n'));
  const whole = ({ name, version }: Acknowledged) => {
    const paths = packagePaths(name);
    return tree.has(paths.outline(version)) && refs.has(paths.bundleRef(version)) && refs.has(paths.tagRef(version));
  };
  return { acknowledged: acknowledged.length, whole: acknowledged.filter(whole).length };
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
 * One round on a copy of the template: the registry as `npm start` runs it, the warm-up, one
 * client, eight clients, reads under publishing when asked; then SIGKILL, and `git` counts the
 * acknowledged publishes that are whole.
 */
export async function grenRound(template: string, options: RoundOptions): Promise<GrenRound> {
  const dir = path.join(options.work, 'gren-round');
  copyFolder(template, dir);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const access = openPublishAccess({ accountsFile: dataPaths(dir).accounts, adminEmail: ADMIN, clock: systemClock, log });
  const acknowledged: Acknowledged[] = [];
  const lines: TimingLine[] = [];
  // One identity publishes hundreds of versions a round: the publish limit is lifted for the measurement.
  const env = { REGISTRY_DATA: dir, PORT: String(port), HOST: '127.0.0.1', REGISTRY_URL: PUBLIC_URL, PUBLISH_BURST: '1000000', ...(options.timings ? { LOG_TIMINGS: '1' } : {}) };
  const server = spawnServer(process.execPath, ['scripts/start.ts'], { cwd: repoRoot, env, ...(options.timings ? { onLine: timingCollector(lines) } : {}) });
  let runs: RoundRuns;
  let late = 0;
  let reads: ReadsResult | null = null;
  try {
    await waitUntilAnswering(`${url}/healthz`, server);
    const publisher = grenPublisher(url, options, access, acknowledged);
    runs = await standardRuns(publisher, options.counts);
    if (options.readsSeconds !== null) {
      // Bodies for about twice what eight clients published a second, for as long as the reads last.
      const perSecond = runs.parallel.latencies.length / runs.parallel.seconds;
      const each = Math.min(1000, Math.ceil((perSecond * (options.readsSeconds + 1) * 2) / CLIENTS));
      publisher.prepare('reads', CLIENTS, each);
      reads = await readsUnderLoad({ base: url, paths: readPaths(options), work: options.work, seconds: options.readsSeconds, connections: 4, clients: CLIENTS, publish: (client, i) => publisher.publish('reads', client, i) });
    }
    late = publisher.late();
  } finally {
    await killNow(server.child);
    access.close();
  }
  const durability = checkDurable(dir, acknowledged);
  await stopStaleRepack(dataPaths(dir).publicGit);
  fs.rmSync(dir, { recursive: true, force: true });
  return { ...runs, reads, durability, late, timings: { single: timingsOf(lines, acknowledged, 'single'), parallel: timingsOf(lines, acknowledged, 'parallel') } };
}
