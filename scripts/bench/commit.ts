// Commit latency of the index repository: the commits publishes make (gren.json and index.json
// on main; the bundle, ~30 KB, and the version's source tree on its content refs) on registries
// holding 100, 1,000 and 10,000 versions, against `git fast-import` making the same commits;
// plus the registry's resident memory and a dumb-HTTP clone of the largest index. Prints
// figures; never fails a build.
//
//   node scripts/bench/commit.ts [--sizes 100,1000,10000] [--commits 200] [--authors N]
//
// Packages hold ten versions each; by default every author holds two (50,000 versions: 2,500
// authors); `--authors N` spreads the packages of every size over N authors instead.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { bundle } from '../../test/helpers/bundle.ts';
import { systemClock } from '../../gateway/clock.ts';
import { loadConfig } from '../../gateway/config.ts';
import { indexConfigFile } from '../../gateway/index-config.ts';
import { createLogger } from '../../gateway/log.ts';
import { dataPaths, openPackageRepo, openRegistry } from '../../gateway/registry.ts';
import { encodeIndex, packagePaths, withVersion, type VersionIndex } from '../../gateway/packages/version-index.ts';
import type { RefChange } from '../../index-repo/types.ts';
import { fillPackages, readBundle, versionOf, type ReadBundle } from './fill.ts';
import { median, ms, percentile, table } from './stats.ts';

const BUNDLE_PADDING = 30 * 1024;
const VERSIONS_PER_PACKAGE = 10;
const PUBLIC_URL = 'http://registry.bench.example';
const quiet = createLogger(() => undefined);
const configFor = (dataDir: string) => loadConfig({ REGISTRY_DATA: dataDir, REGISTRY_URL: PUBLIC_URL });

type Layout = { author: string; name: string; versions: string[] };
type Publish = { name: string; version: string; bundle: ReadBundle };
type Measured = { latencies: number[]; peakRss: number };

/** The packages of a registry of `total` versions, over `authors` authors (null: two packages each). */
function layoutFor(total: number, authors: number | null): Layout[] {
  const packages = Math.max(1, Math.floor(total / VERSIONS_PER_PACKAGE));
  const over = authors ?? Math.ceil(packages / 2);
  return Array.from({ length: packages }, (_, i) => ({
    author: `author-${i % over}`,
    name: `package-${Math.floor(i / over)}`,
    versions: Array.from({ length: VERSIONS_PER_PACKAGE }, (_, v) => `1.${v}.0`),
  }));
}

const authorCount = (layout: Layout[]) => new Set(layout.map((p) => p.author)).size;
const fullName = (pkg: Layout) => `${pkg.author}/${pkg.name}`;

/** Fills a data folder as publishes would have (see fill.ts: ~1.5 KB bundles, packed at the end). */
async function fill(dataDir: string, total: number, authors: number | null): Promise<void> {
  const started = performance.now();
  if (total >= 10_000) process.stderr.write(`  filling ${total} versions...\n`);
  const packages = function* () {
    for (const pkg of layoutFor(total, authors)) yield { name: fullName(pkg), versions: pkg.versions.map((version) => ({ version, bytes: bundle({ name: fullName(pkg), version, padding: 1500 }) })) };
  };
  await fillPackages(configFor(dataDir), packages());
  if (total >= 10_000) process.stderr.write(`  filled ${total} versions in ${((performance.now() - started) / 1000).toFixed(0)} s (packed)\n`);
}

/** The measured publishes: new versions of packages spread over the registry, ~30 KB bundles, read as the gateway reads them. */
function nextPublishes(layout: Layout[], count: number): Publish[] {
  return Array.from({ length: count }, (_, i) => {
    const name = fullName(layout[(i * 7919) % layout.length] as Layout);
    const version = `2.${i}.0`;
    return { name, version, bundle: readBundle(bundle({ name, version, padding: BUNDLE_PADDING })) };
  });
}

/** What a publish commits: the version (see `versionOf`), then the package's index.json listing it; `indexes` is the catalog's copy, updated. */
function publishCommit(p: Publish, indexes: Map<string, VersionIndex | null>) {
  const one = versionOf(p.name, p.version, p.bundle, new Date().toISOString());
  const next = withVersion(indexes.get(p.name) ?? null, p.name, one.entry);
  indexes.set(p.name, next);
  return { message: `Publish ${p.name} ${p.version}`, changes: [...one.changes, { path: packagePaths(p.name).index, content: encodeIndex(next) }], refs: one.refs };
}

/** Runs in a child process (so that its memory is its own): opens the filled repository as the registry does and commits. */
async function measureOurs(dataDir: string, total: number, commits: number, authors: number | null): Promise<Measured> {
  const repo = await openPackageRepo(dataPaths(dataDir), 'public', { clock: systemClock, log: quiet, required: { 'config.json': indexConfigFile(configFor(dataDir)) }, packEvery: 0 });
  const publishes = nextPublishes(layoutFor(total, authors), commits);
  // The registry keeps every package's index in memory (its catalog): read them before the clock runs.
  const indexes = new Map<string, VersionIndex | null>();
  for (const { name } of publishes) if (!indexes.has(name)) indexes.set(name, await repo.snapshot().readJson<VersionIndex>(packagePaths(name).index));
  const latencies: number[] = [];
  let peakRss = process.memoryUsage().rss;
  for (const p of publishes) {
    const started = performance.now();
    await repo.update(() => ({ ...publishCommit(p, indexes), result: null }));
    latencies.push(performance.now() - started);
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }
  await repo.close();
  return { latencies, peakRss };
}

/**
 * A publish's commits as a `git fast-import` stream: the version's tag commit with its source
 * tree (fast-import points refs at commits only, so the bundle goes into that tree rather than
 * on a ref of its own), then the commit on main.
 */
function fastImportStream(commit: ReturnType<typeof publishCommit>): Buffer {
  const now = Math.floor(Date.now() / 1000);
  const header = (ref: string, onMain: boolean) => Buffer.from(`commit ${ref}\ncommitter Bench <bench@localhost> ${now} +0000\ndata ${Buffer.byteLength(commit.message)}\n${commit.message}\n${onMain ? 'from refs/heads/main^0\n' : ''}`);
  const file = (at: string, content: Uint8Array) => [Buffer.from(`M 100644 inline ${at}\ndata ${content.length}\n`), Buffer.from(content), Buffer.from('\n')];
  const tag = commit.refs.find((r): r is Extract<RefChange, { commit: unknown }> => 'commit' in r);
  const blob = commit.refs.find((r): r is Extract<RefChange, { blob: unknown }> => 'blob' in r);
  if (!tag || !blob) throw new Error('a publish sets a tag and a bundle ref');
  const parts = [header(tag.ref, false), ...tag.commit.files.flatMap((f) => file(f.path, f.content)), ...file('bundle.pkg.gz', blob.blob)];
  parts.push(header('refs/heads/main', true), ...commit.changes.flatMap((c) => ('delete' in c ? [] : file(c.path, c.content))), Buffer.from('done\n'));
  return Buffer.concat(parts);
}

/** The same commits through `git fast-import`, one durable invocation per publish. */
function measureGit(gitDir: string, total: number, commits: number, authors: number | null): number[] {
  const publishes = nextPublishes(layoutFor(total, authors), commits);
  const indexes = new Map<string, VersionIndex | null>();
  for (const { name } of publishes) indexes.set(name, JSON.parse(execFileSync('git', ['--git-dir', gitDir, 'show', `main:${packagePaths(name).index}`], { encoding: 'utf8' })) as VersionIndex);
  const latencies: number[] = [];
  for (const p of publishes) {
    const input = fastImportStream(publishCommit(p, indexes));
    const started = performance.now();
    execFileSync('git', ['-c', 'core.fsync=all', '-c', 'core.fsyncMethod=fsync', '--git-dir', gitDir, 'fast-import', '--quiet', '--done'], { input });
    latencies.push(performance.now() - started);
  }
  return latencies;
}

/** Clones the index over HTTP from the real gateway, counting requests. */
async function measureClone(dataDir: string): Promise<{ seconds: number; requests: number }> {
  const registry = await openRegistry(loadConfig({ REGISTRY_DATA: dataDir, REGISTRY_URL: PUBLIC_URL, PORT: '0' }), { log: quiet });
  const { url } = await registry.listen();
  let requests = 0;
  registry.server()?.prependListener('request', () => requests++);
  const target = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-clone-'));
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const git = spawn('git', ['clone', '--quiet', `${url}/index.git`, target], { stdio: 'inherit' });
    git.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`git clone exited ${code}`))));
  });
  const seconds = (performance.now() - started) / 1000;
  await registry.close();
  fs.rmSync(target, { recursive: true, force: true });
  return { seconds, requests };
}

async function worker(): Promise<void> {
  const [dataDir, total, commits, authors] = process.argv.slice(3);
  const result = await measureOurs(dataDir as string, Number(total), Number(commits), authors === 'default' ? null : Number(authors));
  process.stdout.write(JSON.stringify(result));
}

function runWorker(dataDir: string, total: number, commits: number, authors: number | null): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [import.meta.filename, '--worker', dataDir, String(total), String(commits), authors === null ? 'default' : String(authors)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`worker exited ${code}`))));
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { sizes: { type: 'string', default: '100,1000,10000' }, commits: { type: 'string', default: '200' }, authors: { type: 'string' }, worker: { type: 'boolean' } }, allowPositionals: true });
  if (values.worker) return worker();
  const sizes = values.sizes.split(',').map(Number);
  const commits = Number(values.commits);
  const authors = values.authors === undefined ? null : Number(values.authors);
  if (sizes.some((n) => !(n >= 1)) || !(commits >= 1) || (authors !== null && !(authors >= 1))) throw new Error('--sizes, --commits and --authors take positive numbers');
  console.log(`Commit latency: ${commits} publishes per size (gren.json and index.json on main; a ~30 KB bundle and the source tree on content refs); every commit flushed to disk.`);
  console.log(`Peer: git ${execFileSync('git', ['--version']).toString().trim().replace('git version ', '')} fast-import, one invocation per publish, core.fsync=all.\n`);
  const rows: Array<Array<string | number>> = [];
  const medians = new Map<number, number>();
  let largest: { dir: string; total: number } | null = null;
  for (const total of sizes) {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), `bench-commit-${total}-`));
    const ours = path.join(root, 'ours');
    await fill(ours, total, authors);
    const peer = path.join(root, 'peer.git');
    fs.cpSync(path.join(ours, 'index.git'), peer, { recursive: true });
    fs.rmSync(path.join(peer, 'registry.lock'), { force: true });
    const clone = total === Math.max(...sizes) ? await measureClone(ours) : null;
    const result = await runWorker(ours, total, commits, authors);
    const git = measureGit(peer, total, commits, authors);
    medians.set(total, median(result.latencies));
    const first = medians.get(sizes[0] as number) as number;
    rows.push([total, authorCount(layoutFor(total, authors)), ms(median(result.latencies)), ms(percentile(result.latencies, 99)), `${(median(result.latencies) / first).toFixed(2)}x`, `${Math.round(result.peakRss / 1024 / 1024)} MB`, ms(median(git)), ms(percentile(git, 99)), (median(git) / median(result.latencies)).toFixed(1) + 'x']);
    if (clone) largest = { dir: root, total };
    if (clone) console.log(`Clone of the ${total}-version index over plain HTTP: ${clone.seconds.toFixed(1)} s, ${clone.requests} requests.\n`);
    else fs.rmSync(root, { recursive: true, force: true });
  }
  table(['versions', 'authors', 'registry median', 'registry p99', `median / at ${sizes[0]}`, 'registry peak RSS', 'git median', 'git p99', 'git / registry'], rows);
  const first = medians.get(sizes[0] as number) as number;
  const last = medians.get(sizes[sizes.length - 1] as number) as number;
  console.log(`\nMedian at ${sizes[sizes.length - 1]} / median at ${sizes[0]}: ${(last / first).toFixed(2)}x (goal: within 1.2x).`);
  if (largest) fs.rmSync(largest.dir, { recursive: true, force: true });
}

await main();
