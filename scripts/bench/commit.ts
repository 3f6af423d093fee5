// Commit latency of the index repository at 100, 1,000 and 10,000 package versions, against
// the `git` command's own plumbing doing the same commits, plus the registry's resident memory
// and a dumb-HTTP clone of the largest index. Prints figures; never fails a build.
//
//   node scripts/bench/commit.ts [--sizes 100,1000,10000] [--commits 200]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { spawn, execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { openIndexRepo, type LocalIndexRepo } from '../../index-repo/open-index-repo.ts';
import { createLogger } from '../../gateway/log.ts';
import type { FileChange } from '../../index-repo/types.ts';
import { median, ms, percentile, table } from './stats.ts';

const BUNDLE_BYTES = 30 * 1024;
const VERSIONS_PER_PACKAGE = 10;
const quiet = createLogger(() => undefined);
const clock = { now: () => new Date() };

type Layout = { author: string; name: string; versions: string[] };

function layoutFor(total: number): Layout[] {
  const packages = Math.max(1, Math.floor(total / VERSIONS_PER_PACKAGE));
  return Array.from({ length: packages }, (_, i) => ({
    author: `author-${Math.floor(i / 2)}`,
    name: `package-${i % 2}`,
    versions: Array.from({ length: VERSIONS_PER_PACKAGE }, (_, v) => `1.${v}.0`),
  }));
}

function indexJson(pkg: Layout, versions: string[]): Buffer {
  const entries = versions.map((version) => ({ version, 'gren-version': '0.6.0 <= v < 0.7.0', platform: 'common', dependencies: {}, sha256: '0'.repeat(64), size: BUNDLE_BYTES, published: new Date().toISOString(), revoked: null }));
  return Buffer.from(JSON.stringify({ name: `${pkg.author}/${pkg.name}`, versions: entries }, null, 2));
}

function publishChanges(pkg: Layout, version: string, versions: string[]): FileChange[] {
  const base = `packages/${pkg.author}/${pkg.name}`;
  return [
    { path: `${base}/${version}/bundle.pkg.gz`, content: crypto.randomBytes(BUNDLE_BYTES) },
    { path: `${base}/${version}/gren.json`, content: Buffer.from(JSON.stringify({ type: 'package', name: `${pkg.author}/${pkg.name}`, version })) },
    { path: `${base}/index.json`, content: indexJson(pkg, versions) },
  ];
}

/** Fills a data folder with `total` versions (many per commit, for speed), then packs it. */
async function fill(dataDir: string, total: number): Promise<Layout[]> {
  const layout = layoutFor(total);
  const repo = await openIndexRepo({ gitDir: path.join(dataDir, 'index.git'), servedDir: path.join(dataDir, 'index'), clock, log: quiet, name: 'bench', required: { 'config.json': Buffer.from('{"protocol": 1}\n') }, packEvery: 0 });
  const started = performance.now();
  for (let i = 0; i < layout.length; i += 25) {
    const batch = layout.slice(i, i + 25);
    const changes = batch.flatMap((pkg) => [...pkg.versions.flatMap((v) => publishChanges(pkg, v, pkg.versions).slice(0, 2)), publishChanges(pkg, pkg.versions[0] as string, pkg.versions)[2] as FileChange]);
    await repo.update(() => ({ message: `Fill ${i}`, changes, result: null }));
    if (total >= 10_000 && i % 250 === 0) process.stderr.write(`\r  filling ${total}: ${Math.min(total, (i + 25) * VERSIONS_PER_PACKAGE)} versions`);
  }
  await repo.maintain();
  await repo.close();
  if (total >= 10_000) process.stderr.write(`\r  filled ${total} versions in ${((performance.now() - started) / 1000).toFixed(0)} s (packed)\n`);
  return layout;
}

/** The next versions to publish in the measured commits: new versions of existing packages. */
function nextPublishes(layout: Layout[], count: number): Array<{ pkg: Layout; version: string }> {
  return Array.from({ length: count }, (_, i) => {
    const pkg = layout[(i * 7919) % layout.length] as Layout;
    return { pkg, version: `2.${i}.0` };
  });
}

/** Runs in a child process (so that its memory is its own): opens the filled repository and commits. */
async function measureOurs(dataDir: string, total: number, commits: number): Promise<{ latencies: number[]; peakRss: number }> {
  const layout = layoutFor(total);
  const repo: LocalIndexRepo = await openIndexRepo({ gitDir: path.join(dataDir, 'index.git'), servedDir: path.join(dataDir, 'index'), clock, log: quiet, name: 'bench', required: { 'config.json': Buffer.from('{"protocol": 1}\n') }, packEvery: 0 });
  const latencies: number[] = [];
  let peakRss = process.memoryUsage().rss;
  for (const { pkg, version } of nextPublishes(layout, commits)) {
    pkg.versions.push(version);
    const changes = publishChanges(pkg, version, pkg.versions);
    const started = performance.now();
    await repo.update(() => ({ message: `Publish ${pkg.author}/${pkg.name} ${version}`, changes, result: null }));
    latencies.push(performance.now() - started);
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }
  await repo.close();
  return { latencies, peakRss };
}

/** The same commits through `git fast-import`, one durable invocation per commit. */
function measureGit(gitDir: string, total: number, commits: number): number[] {
  const layout = layoutFor(total);
  const latencies: number[] = [];
  for (const { pkg, version } of nextPublishes(layout, commits)) {
    pkg.versions.push(version);
    const changes = publishChanges(pkg, version, pkg.versions);
    const message = `Publish ${pkg.author}/${pkg.name} ${version}`;
    const parts: Buffer[] = [Buffer.from(`commit refs/heads/main\ncommitter Bench <bench@localhost> ${Math.floor(Date.now() / 1000)} +0000\ndata ${Buffer.byteLength(message)}\n${message}\nfrom refs/heads/main^0\n`)];
    for (const change of changes) {
      if ('delete' in change) continue;
      parts.push(Buffer.from(`M 100644 inline ${change.path}\ndata ${change.content.length}\n`), Buffer.from(change.content), Buffer.from('\n'));
    }
    parts.push(Buffer.from('done\n'));
    const started = performance.now();
    execFileSync('git', ['-c', 'core.fsync=all', '-c', 'core.fsyncMethod=fsync', '--git-dir', gitDir, 'fast-import', '--quiet', '--done'], { input: Buffer.concat(parts) });
    latencies.push(performance.now() - started);
  }
  return latencies;
}

/** Clones the index over HTTP from the real gateway, counting requests. */
async function measureClone(dataDir: string): Promise<{ seconds: number; requests: number }> {
  const { loadConfig } = await import('../../gateway/config.ts');
  const { openRegistry } = await import('../../gateway/registry.ts');
  const registry = await openRegistry(loadConfig({ REGISTRY_DATA: dataDir, PORT: '0' }), { log: quiet });
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
  const [dataDir, total, commits] = process.argv.slice(3);
  const result = await measureOurs(dataDir as string, Number(total), Number(commits));
  process.stdout.write(JSON.stringify(result));
}

function runWorker(dataDir: string, total: number, commits: number): Promise<{ latencies: number[]; peakRss: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [import.meta.filename, '--worker', dataDir, String(total), String(commits)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`worker exited ${code}`))));
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { sizes: { type: 'string', default: '100,1000,10000' }, commits: { type: 'string', default: '200' }, worker: { type: 'boolean' } }, allowPositionals: true });
  if (values.worker) return worker();
  const sizes = values.sizes.split(',').map(Number);
  const commits = Number(values.commits);
  console.log(`Commit latency: ${commits} publishes (a ~30 KB bundle, gren.json, index.json) per size; every commit flushed to disk.`);
  console.log(`Peer: git ${execFileSync('git', ['--version']).toString().trim().replace('git version ', '')} fast-import, one invocation per commit, core.fsync=all.\n`);
  const rows: Array<Array<string | number>> = [];
  const medians = new Map<number, number>();
  let largest: { dir: string; total: number } | null = null;
  for (const total of sizes) {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), `bench-commit-${total}-`));
    const ours = path.join(root, 'ours');
    await fill(ours, total);
    const peer = path.join(root, 'peer.git');
    fs.cpSync(path.join(ours, 'index.git'), peer, { recursive: true });
    fs.rmSync(path.join(peer, 'registry.lock'), { force: true });
    const clone = total === Math.max(...sizes) ? await measureClone(ours) : null;
    const result = await runWorker(ours, total, commits);
    const git = measureGit(peer, total, commits);
    medians.set(total, median(result.latencies));
    rows.push([total, ms(median(result.latencies)), ms(percentile(result.latencies, 99)), `${Math.round(result.peakRss / 1024 / 1024)} MB`, ms(median(git)), ms(percentile(git, 99)), (median(git) / median(result.latencies)).toFixed(1) + 'x']);
    if (clone) largest = { dir: root, total };
    if (clone) console.log(`Clone of the ${total}-version index over plain HTTP: ${clone.seconds.toFixed(1)} s, ${clone.requests} requests.\n`);
    else fs.rmSync(root, { recursive: true, force: true });
  }
  table(['versions', 'registry median', 'registry p99', 'registry peak RSS', 'git median', 'git p99', 'git / registry'], rows);
  const first = medians.get(sizes[0] as number) as number;
  const last = medians.get(sizes[sizes.length - 1] as number) as number;
  console.log(`\nMedian at ${sizes[sizes.length - 1]} / median at ${sizes[0]}: ${(last / first).toFixed(2)}x (target: at most 1.5x).`);
  if (largest) fs.rmSync(largest.dir, { recursive: true, force: true });
}

await main();
