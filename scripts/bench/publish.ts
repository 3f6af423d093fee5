#!/usr/bin/env node
// Publish benchmark: latency (median, p99) and throughput from 1 and from 8 clients, with
// ~30 KB bundles, on a registry already holding 100 and 10,000 versions; Verdaccio, the
// self-hosted npm registry, measured the same way in the same run. Prints figures; never a test.
import crypto from 'node:crypto';
import { bundle } from '../../test/helpers/bundle.ts';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { systemClock } from '../../gateway/clock.ts';
import { loadConfig } from '../../gateway/config.ts';
import { dataPaths } from '../../gateway/registry.ts';
import { fillPackages } from './fill.ts';
import { packagePaths } from '../../gateway/packages/version-index.ts';
import { stopStaleRepack } from '../../index-repo/maintenance.ts';
import { openPublishAccess } from '../admin/publish-access.ts';
import { quietLogger } from '../admin/ops-cli.ts';

const help = `Usage: node scripts/bench/publish.ts [--quick] [--no-peer] [--verdaccio DIR]

  --quick          100 and 1,000 versions, fewer publishes (a smoke run).
  --no-peer        Skip Verdaccio.
  --peer-only      Only Verdaccio.
  --verdaccio DIR  Where Verdaccio is (or gets) installed (default: $TMPDIR/gren-bench-verdaccio).
`;

const args = process.argv.slice(2);
if (args.includes('--help')) {
  process.stdout.write(help);
  process.exit(0);
}
const quick = args.includes('--quick');
const sizes = quick ? [100, 1000] : [100, 10_000];
const single = quick ? 60 : 200;
const perClient = quick ? 15 : 50;
const clients = 8;
const verdaccioDir = args[args.indexOf('--verdaccio') + 1] && args.includes('--verdaccio') ? path.resolve(args[args.indexOf('--verdaccio') + 1] as string) : path.join(os.tmpdir(), 'gren-bench-verdaccio');
const repoRoot = path.resolve(import.meta.dirname, '../..');
const log = quietLogger();

type Run = { label: string; latencies: number[]; seconds: number };

// ---------------------------------------------------------------------------------------------
// Shared: ports, child processes, the measuring loop, the figures.

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function waitUntil(url: string, child: ChildProcess, output: string[]): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited: ${output.join('').slice(-2000)}`);
    try {
      if ((await fetch(url)).status < 500) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`the server did not start: ${output.join('').slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function spawnServer(command: string, argv: string[], cwd: string, env: Record<string, string>): { child: ChildProcess; output: string[] } {
  const child = spawn(command, argv, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  const output: string[] = [];
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  return { child, output };
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** Runs `count` publishes from each of `parallel` clients; answers every latency (ms) and the wall time. */
async function measure(label: string, parallel: number, count: number, publish: (client: number, i: number) => Promise<void>): Promise<Run> {
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: parallel }, async (_, client) => {
      for (let i = 0; i < count; i++) {
        const t0 = performance.now();
        await publish(client, i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return { label, latencies, seconds: (performance.now() - started) / 1000 };
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;

function figures(run: Run) {
  const sorted = [...run.latencies].sort((a, b) => a - b);
  return { median: percentile(sorted, 50), p99: percentile(sorted, 99), perSecond: run.latencies.length / run.seconds };
}

function print(run: Run): void {
  const f = figures(run);
  process.stdout.write(`  ${run.label.padEnd(44)} median ${f.median.toFixed(1).padStart(6)} ms   p99 ${f.p99.toFixed(1).padStart(7)} ms   ${f.perSecond.toFixed(0).padStart(5)} publishes/s   (${run.latencies.length})\n`);
}

/** Incompressible filler: base64 of random bytes gzips back to about `bytes`. */
const filler = (bytes: number) => crypto.randomBytes(bytes).toString('base64');

// ---------------------------------------------------------------------------------------------
// The Gren registry.

function grenBundle(name: string, version: string, padding: number, deps: Record<string, string> = {}): Buffer {
  return bundle({ name, version, deps, padding, summary: `Benchmark package ${name}` });
}

/** Fills the registry with `versions` versions straight through the index repository: packages of ten versions. */
async function fill(dataDir: string, versions: number, registryUrl: string): Promise<void> {
  const config = loadConfig({ REGISTRY_DATA: dataDir, REGISTRY_URL: registryUrl });
  const packages = Math.ceil(versions / 10);
  const all = function* () {
    for (let p = 0; p < packages; p++) {
      const name = `fill/pkg-${p}`;
      yield { name, versions: Array.from({ length: Math.min(10, versions - p * 10) }, (_, v) => ({ version: `1.${v}.0`, bytes: grenBundle(name, `1.${v}.0`, 1500) })) };
    }
  };
  await fillPackages(config, all());
}

type Acknowledged = Array<{ name: string; version: string }>;

/** Publishes prepared ~30 KB bundles of `bench/<prefix>-<client>-<n>`, each depending on a filled package. */
function grenPublisher(url: string, token: string, prefix: string, acknowledged: Acknowledged) {
  const bundles = new Map<string, Buffer>();
  const target = (client: number, i: number) => ({ name: `bench/${prefix}-${client}-${i % 10}`, version: `1.0.${Math.floor(i / 10)}` });
  return {
    prepare(parallel: number, count: number) {
      for (let c = 0; c < parallel; c++) {
        for (let i = 0; i < count; i++) {
          const { name, version } = target(c, i);
          bundles.set(`${name}@${version}`, grenBundle(name, version, 30_000, { 'fill/pkg-0': '1.0.0 <= v < 2.0.0' }));
        }
      }
    },
    async publish(client: number, i: number) {
      const { name, version } = target(client, i);
      const body = bundles.get(`${name}@${version}`) as Buffer;
      const res = await fetch(`${url}/packages/${name}/${version}`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/gzip' }, body });
      const text = await res.text();
      if (res.status !== 201) throw new Error(`publish ${name} ${version}: ${res.status} ${text}`);
      acknowledged.push({ name, version });
    },
  };
}

/** After a kill -9: how many acknowledged publishes `git` finds whole: gren.json on main, bundle and tag on their refs. */
function checkDurable(dataDir: string, acknowledged: Acknowledged): void {
  const gitDir = dataPaths(dataDir).publicGit;
  const tree = new Set(execFileSync('git', ['--git-dir', gitDir, 'ls-tree', '-r', '--name-only', 'main'], { maxBuffer: 1 << 28 }).toString().split('\n'));
  const refs = new Set(execFileSync('git', ['--git-dir', gitDir, 'for-each-ref', '--format=%(refname)', 'refs/namespaces/'], { maxBuffer: 1 << 28 }).toString().split('\n'));
  const whole = ({ name, version }: { name: string; version: string }) => {
    const paths = packagePaths(name);
    return tree.has(paths.outline(version)) && refs.has(paths.bundleRef(version)) && refs.has(paths.tagRef(version));
  };
  const missing = acknowledged.filter((ack) => !whole(ack));
  process.stdout.write(`  durability: killed with SIGKILL after the runs; ${acknowledged.length - missing.length} of ${acknowledged.length} acknowledged publishes whole\n`);
}

async function benchGren(versions: number): Promise<Run[]> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gren-bench-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let started = performance.now();
  await fill(dataDir, versions, url);
  process.stdout.write(`  (filled ${versions} versions in ${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
  const access = openPublishAccess({ accountsFile: dataPaths(dataDir).accounts, adminEmail: 'bench@example.com', clock: systemClock, log });
  const grant = access.tokenFor('bench');
  if (!('token' in grant)) throw new Error(grant.refused);
  const token = grant.token;

  started = performance.now();
  // One token publishes hundreds of versions here: the publish limit is lifted for the measurement.
  const env = { REGISTRY_DATA: dataDir, PORT: String(port), HOST: '127.0.0.1', REGISTRY_URL: url, PUBLISH_BURST: '1000000' };
  const { child, output } = spawnServer(process.execPath, ['scripts/start.ts'], repoRoot, env);
  await waitUntil(`${url}/healthz`, child, output);
  process.stdout.write(`  (started in ${((performance.now() - started) / 1000).toFixed(1)} s)\n`);

  const acknowledged: Acknowledged = [];
  const publisher = (prefix: string) => grenPublisher(url, token, prefix, acknowledged);
  const runs: Run[] = [];
  const warm = publisher('warm');
  warm.prepare(1, 20);
  await measure('warm-up', 1, 20, warm.publish);
  for (const [label, parallel, count] of [[`1 client, ${versions} versions held`, 1, single], [`8 clients, ${versions} versions held`, clients, perClient]] as const) {
    const p = publisher(`c${parallel}`);
    p.prepare(parallel, count);
    const run = await measure(label, parallel, count, p.publish);
    print(run);
    runs.push(run);
  }

  let packages = 0;
  const listing = await measure('GET /packages', 1, 100, async () => {
    packages = ((await (await fetch(`${url}/packages`)).json()) as unknown[]).length;
  });
  const listed = figures(listing);
  process.stdout.write(`  GET /packages (${packages} packages): median ${listed.median.toFixed(1)} ms, p99 ${listed.p99.toFixed(1)} ms\n`);

  // Durability: kill -9, then count with git what was acknowledged.
  await stop(child);
  access.close();
  checkDurable(dataDir, acknowledged);
  // A repack the killed registry had started goes on in its own process group: stop it first.
  await stopStaleRepack(dataPaths(dataDir).publicGit);
  fs.rmSync(dataDir, { recursive: true, force: true });
  return runs;
}

// ---------------------------------------------------------------------------------------------
// The peer: Verdaccio, publishing npm packages of the same size through its HTTP API.

function installVerdaccio(): string | null {
  const bin = path.join(verdaccioDir, 'node_modules', 'verdaccio', 'bin', 'verdaccio');
  if (fs.existsSync(bin)) return bin;
  fs.mkdirSync(verdaccioDir, { recursive: true });
  // node-fetch's "cjs" dist-tag, which Verdaccio's dependencies ask for, is missing from some mirrors.
  fs.writeFileSync(path.join(verdaccioDir, 'package.json'), JSON.stringify({ private: true, dependencies: { verdaccio: '^6' }, overrides: { 'node-fetch': '2.7.0' } }));
  try {
    process.stdout.write(`  (installing Verdaccio into ${verdaccioDir})\n`);
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: verdaccioDir, stdio: 'ignore', timeout: 600_000 });
  } catch (err) {
    process.stdout.write(`  Verdaccio could not be installed here: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}\n`);
    return null;
  }
  return fs.existsSync(bin) ? bin : null;
}

function npmDocument(name: string, version: string, tarball: Buffer, registry: string) {
  const file = `${name}-${version}.tgz`;
  const manifest = { name, version, description: `Benchmark package ${name}`, dist: { shasum: crypto.createHash('sha1').update(tarball).digest('hex'), integrity: `sha512-${crypto.createHash('sha512').update(tarball).digest('base64')}`, tarball: `${registry}/${name}/-/${file}` } };
  return JSON.stringify({ _id: name, name, description: manifest.description, 'dist-tags': { latest: version }, versions: { [version]: manifest }, _attachments: { [file]: { content_type: 'application/octet-stream', data: tarball.toString('base64'), length: tarball.length } } });
}

async function benchVerdaccio(bin: string, versions: number): Promise<Run[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'verdaccio-bench-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  fs.writeFileSync(
    path.join(dir, 'config.yaml'),
    `storage: ${dir}/storage\nauth:\n  htpasswd:\n    file: ${dir}/htpasswd\n    max_users: 10\nuplinks: {}\npackages:\n  '**':\n    access: $all\n    publish: $authenticated\nmax_body_size: 20mb\nsecurity:\n  api:\n    jwt:\n      sign:\n        expiresIn: 1d\nlog: { type: stdout, format: json, level: error }\n`,
  );
  const { child, output } = spawnServer(process.execPath, [bin, '--config', path.join(dir, 'config.yaml'), '--listen', `127.0.0.1:${port}`], dir, {});
  try {
    await waitUntil(`${url}/-/ping`, child, output);
    const user = await fetch(`${url}/-/user/org.couchdb.user:bench`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'bench', password: 'bench-password' }) });
    const { token } = (await user.json()) as { token: string };
    const put = async (name: string, version: string, size: number) => {
      const body = npmDocument(name, version, zlib.gzipSync(filler(size)), url);
      const res = await fetch(`${url}/${name}`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body });
      const text = await res.text();
      if (res.status !== 201 && res.status !== 200) throw new Error(`verdaccio publish ${name}@${version}: ${res.status} ${text}`);
    };
    const started = performance.now();
    await measure('fill', 8, Math.ceil(versions / 8), (c, i) => {
      const n = c * Math.ceil(versions / 8) + i;
      return n < versions ? put(`fill-pkg-${Math.floor(n / 10)}`, `1.${n % 10}.0`, 1500) : Promise.resolve();
    });
    process.stdout.write(`  (filled ${versions} versions over HTTP in ${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
    await measure('warm-up', 1, 20, (_, i) => put(`warm-${i % 10}`, `1.0.${Math.floor(i / 10)}`, 30_000));
    const runs: Run[] = [];
    for (const [label, parallel, count] of [[`1 client, ${versions} versions held`, 1, single], [`8 clients, ${versions} versions held`, clients, perClient]] as const) {
      const run = await measure(label, parallel, count, (c, i) => put(`bench-c${parallel}-${c}-${i % 10}`, `1.0.${Math.floor(i / 10)}`, 30_000));
      print(run);
      runs.push(run);
    }
    return runs;
  } finally {
    await stop(child);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------

process.stdout.write(`Publish benchmark: ~30 KB bundles, ${os.cpus().length} cores, Node ${process.version}\n`);
if (!args.includes('--peer-only')) {
  process.stdout.write('\nGren registry\n');
  const gren = new Map<number, Run[]>();
  for (const versions of sizes) gren.set(versions, await benchGren(versions));
  summarise(gren);
}

function summarise(gren: Map<number, Run[]>): void {
  const [small, large] = sizes as [number, number];
  const ratio = (i: number) => figures((gren.get(large) as Run[])[i] as Run).median / figures((gren.get(small) as Run[])[i] as Run).median;
  process.stdout.write(`\n  median at ${large} / median at ${small}: 1 client ${ratio(0).toFixed(2)}x, 8 clients ${ratio(1).toFixed(2)}x (target: at most 1.5x)\n`);
  process.stdout.write(`  median from one client at ${large}: ${figures((gren.get(large) as Run[])[0] as Run).median.toFixed(1)} ms (target: at most 10 ms)\n`);
}

if (!args.includes('--no-peer')) {
  process.stdout.write('\nVerdaccio (same machine, same run; it writes each file to a temporary name and renames it,\nwithout flushing to disk: its publishes are not durable against a power cut)\n');
  const bin = installVerdaccio();
  if (bin === null) process.stdout.write('  Verdaccio cannot run here; no peer figures.\n');
  else {
    for (const versions of sizes) {
      try {
        await benchVerdaccio(bin, versions);
      } catch (err) {
        process.stdout.write(`  Verdaccio failed: ${err instanceof Error ? err.message.slice(0, 500) : String(err)}\n`);
        break;
      }
    }
  }
}
