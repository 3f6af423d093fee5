#!/usr/bin/env node
// Read replicas at scale: a primary holding N versions (10,000 by default) and two replicas as
// `npm run replica` runs them, one following by webhook, one by its timer. Prints what a replica's
// first copy costs, how long after a publish's answer each replica serves it, what one update
// and a restart after SIGKILL cost, and reads per second of an index.json from the gateway, from
// one replica, from both at once, and from nginx serving a replica's folder with docs/nginx.conf
// (checked against the gateway's answers first). Prints figures; never a test.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../gateway/config.ts';
import { systemClock } from '../../gateway/clock.ts';
import { dataPaths } from '../../gateway/registry.ts';
import { packagePaths } from '../../gateway/packages/version-index.ts';
import { bundle } from '../../test/helpers/bundle.ts';
import { freePort } from '../../test/helpers/registry.ts';
import { quietLogger } from '../admin/ops-cli.ts';
import { openPublishAccess } from '../admin/publish-access.ts';
import { fillPackages } from './fill.ts';
import { startNginx, writeNginxConfig } from './nginx.ts';
import { compareServers } from './read-checks.ts';
import { runWrk, type LoadResult } from './wrk.ts';
import { cpuSeconds } from './process-cpu.ts';
import { cleanUpAtExit } from './process-tree.ts';
import { median } from './stats.ts';

const help = `Usage: node scripts/bench/replicas.ts [--versions N] [--publishes N] [--interval S] [--seconds N] [--connections N]

  --versions N     Versions in the primary's index before the replicas start (default 10000, ten a package).
  --publishes N    Publishes whose convergence is timed, one at a time (default 10).
  --interval S     The timer of the replica that follows without webhooks, in seconds (default 2).
  --seconds N      Length of each measured read run (default 5; a 1 s warm-up precedes it).
  --connections N  Open connections of the read load (default 64).
`;

const { values: options } = parseArgs({ options: { versions: { type: 'string' }, publishes: { type: 'string' }, interval: { type: 'string' }, seconds: { type: 'string' }, connections: { type: 'string' }, help: { type: 'boolean' } } });
if (options.help) {
  process.stdout.write(help);
  process.exit(0);
}
const versions = Number(options.versions ?? 10_000);
const publishes = Number(options.publishes ?? 10);
const interval = Number(options.interval ?? 2);
const seconds = Number(options.seconds ?? 5);
const connections = Number(options.connections ?? 64);
const repoRoot = path.resolve(import.meta.dirname, '../..');
const pinned = os.availableParallelism() >= 2 && spawnSync('taskset', ['--version']).status === 0;
const core = (n: number) => (pinned ? ['taskset', '-c', String(n)] : []);
const SECRET = 'bench-webhook-secret';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'gren-bench-replicas-'));
fs.chmodSync(work, 0o755);
// Whatever happens, no process of the run outlives it, nor its folder.
cleanUpAtExit(() => fs.rmSync(work, { recursive: true, force: true }));

type Server = { url: string; child: ChildProcess; output: string[] };

/** Starts `scripts/<script>` (behind `prefix`) and waits until its /healthz answers 200. */
async function startServer(script: string, port: number, env: Record<string, string>, prefix: string[] = []): Promise<Server> {
  const [command, ...args] = [...prefix, process.execPath, path.join(repoRoot, 'scripts', script)];
  const child = spawn(command as string, args, { cwd: repoRoot, env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  child.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 600_000;
  while ((await fetch(`${url}/healthz`).then((r) => r.status, () => 0)) !== 200) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${script} did not start: ${output.join('').slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { url, child, output };
}

function stop(server: Server, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    server.child.once('exit', () => resolve());
    server.child.kill(signal);
  });
}

/** The JSON log lines of `event` a server wrote. */
function logged(server: Server, event: string): Array<Record<string, number>> {
  return server.output.join('').split('\n').filter((line) => line.includes(`"event":"${event}"`)).map((line) => JSON.parse(line) as Record<string, number>);
}

const commitOf = async (server: Server) => ((await (await fetch(`${server.url}/healthz`)).json()) as { commit: string }).commit;
const ms = (values: number[]) => `median ${median(values).toFixed(0)} ms, max ${Math.max(...values).toFixed(0)} ms`;

async function fill(dataDir: string, registryUrl: string): Promise<void> {
  const all = function* () {
    for (let p = 0; p * 10 < versions; p++) {
      const name = `fill/pkg-${p}`;
      yield { name, versions: Array.from({ length: Math.min(10, versions - p * 10) }, (_, v) => ({ version: `1.${v}.0`, bytes: bundle({ name, version: `1.${v}.0`, padding: 3000 }) })) };
    }
  };
  await fillPackages(loadConfig({ REGISTRY_DATA: dataDir, REGISTRY_URL: registryUrl }), all());
}

/** Publishes one version at a time and times each until both replicas serve its commit. */
async function convergence(primary: Server, token: string, a: Server, b: Server): Promise<{ webhook: number[]; timer: number[] }> {
  const webhook: number[] = [];
  const timer: number[] = [];
  for (let i = 0; i < publishes; i++) {
    // A random moment of B's timer.
    await new Promise((resolve) => setTimeout(resolve, Math.random() * interval * 1000));
    const name = 'bench/live';
    const body = bundle({ name, version: `1.0.${i}`, padding: 3000 });
    const res = await fetch(`${primary.url}/packages/${name}/1.0.${i}`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/gzip' }, body });
    const acked = performance.now();
    if (res.status !== 201) throw new Error(`publish: ${res.status} ${await res.text()}`);
    const { commit } = (await res.json()) as { commit: string };
    const pending = new Map([[a, webhook], [b, timer]]);
    while (pending.size > 0) {
      for (const [replica, times] of pending) {
        if ((await commitOf(replica)) !== commit) continue;
        times.push(performance.now() - acked);
        pending.delete(replica);
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
  return { webhook, timer };
}

type Reads = LoadResult & { cpuMicros: number | null };

/** wrk on `targets` at once (one wrk each, the connections shared), on `loadCore`: total requests/s, and each server's CPU per request. */
async function reads(targets: Array<{ url: string; pid: number }>, file: string, loadCore: string[]): Promise<Reads> {
  const load = (url: string, secs: number) => runWrk({ url: `${url}/index/${file}`, seconds: secs, connections: Math.max(1, Math.floor(connections / targets.length)), prefix: loadCore });
  await Promise.all(targets.map((t) => load(t.url, 1)));
  const before = targets.map((t) => cpuSeconds(t.pid));
  const results = await Promise.all(targets.map((t) => load(t.url, seconds)));
  const after = targets.map((t) => cpuSeconds(t.pid));
  const requests = results.reduce((sum, r) => sum + r.requests, 0);
  const cpu = before.every((x) => x !== null) && after.every((x) => x !== null) ? after.reduce((s, x, i) => s + (x as number) - (before[i] as number), 0) : null;
  return {
    requestsPerSecond: results.reduce((sum, r) => sum + r.requestsPerSecond, 0),
    p50: median(results.map((r) => r.p50)),
    p99: Math.max(...results.map((r) => r.p99)),
    requests,
    failures: results.reduce((sum, r) => sum + r.failures, 0),
    cpuMicros: cpu === null ? null : (cpu / requests) * 1e6,
  };
}

const row = (label: string, r: Reads) =>
  `  ${label.padEnd(44)} ${r.requestsPerSecond.toFixed(0).padStart(7)} req/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  ${r.cpuMicros === null ? '' : `${r.cpuMicros.toFixed(1)} µs CPU a request`}${r.failures > 0 ? `  FAILURES ${r.failures}` : ''}\n`;

async function main(): Promise<void> {
  const load = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  process.stdout.write(`load average before: ${load()}\n`);
  const [primaryPort, portA, portB, nginxPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const primaryUrl = `http://127.0.0.1:${primaryPort}`;
  const dataDir = path.join(work, 'primary');
  let started = performance.now();
  await fill(dataDir, primaryUrl);
  process.stdout.write(`filled the primary with ${versions} versions in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  const access = openPublishAccess({ accountsFile: dataPaths(dataDir).accounts, adminEmail: 'bench@example.com', clock: systemClock, log: quietLogger() });
  const grant = access.tokenFor('bench');
  if (!('token' in grant)) throw new Error(grant.refused);
  const env = { REGISTRY_DATA: dataDir, REGISTRY_URL: primaryUrl, WEBHOOK_URLS: `http://127.0.0.1:${portA}/replica/webhook`, WEBHOOK_SECRET: SECRET, PUBLISH_BURST: '1000000' };
  const primary = await startServer('start.ts', primaryPort, env, core(0));

  const envA = { REPLICA_DATA: path.join(work, 'a'), PRIMARY_URL: primaryUrl, WEBHOOK_SECRET: SECRET, REPLICA_INTERVAL_SECONDS: '600' };
  const envB = { REPLICA_DATA: path.join(work, 'b'), PRIMARY_URL: primaryUrl, REPLICA_INTERVAL_SECONDS: String(interval) };
  started = performance.now();
  let a = await startServer('replica.ts', portA, envA, core(0));
  const first = logged(a, 'replica_updated')[0] as Record<string, number>;
  process.stdout.write(`a new replica's first copy: ${((performance.now() - started) / 1000).toFixed(1)} s to serve (fetch ${first['fetchMs']} ms, tree of ${first['folders']} folders ${first['buildMs']} ms, all ${first['ms']} ms)\n`);
  const b = await startServer('replica.ts', portB, envB, core(1));
  process.stdout.write(`served trees on disk: ${execFileSync('du', ['-sh', '--apparent-size', path.join(envA.REPLICA_DATA, 'served')], { encoding: 'utf8' }).split('\t')[0]}, the primary's index/ ${execFileSync('du', ['-sh', '--apparent-size', path.join(dataDir, 'index')], { encoding: 'utf8' }).split('\t')[0]}\n`);

  const times = await convergence(primary, grant.token, a, b);
  process.stdout.write(`from a publish's answer to the replica serving it (${publishes} publishes at ${versions} versions):\n`);
  process.stdout.write(`  by webhook:              ${ms(times.webhook)}\n  by a ${interval} s timer:           ${ms(times.timer)}\n`);
  const updates = logged(a, 'replica_updated').slice(1);
  process.stdout.write(`  one update of A: fetch ${ms(updates.map((u) => u['fetchMs'] as number))}; tree ${ms(updates.map((u) => u['buildMs'] as number))}; all ${ms(updates.map((u) => u['ms'] as number))}\n`);

  await stop(a, 'SIGKILL');
  started = performance.now();
  a = await startServer('replica.ts', portA, envA, core(0));
  const resumed = logged(a, 'replica_resumed')[0] as Record<string, number>;
  process.stdout.write(`A killed with SIGKILL and started again: serving in ${((performance.now() - started) / 1000).toFixed(1)} s (its last state checked and its tree walked: ${resumed['ms']} ms, ${resumed['folders']} folders written)\n`);
  await new Promise((resolve) => setTimeout(resolve, 1000));

  const main = writeNginxConfig(work, { LISTEN: `127.0.0.1:${nginxPort}`, REGISTRY_DATA: envA.REPLICA_DATA, GATEWAY: `127.0.0.1:${portA}` }, false);
  const nginx = startNginx(main, core(0));
  const nginxUrl = `http://127.0.0.1:${nginxPort}`;
  while ((await fetch(`${nginxUrl}/index/config.json`).then((r) => r.status, () => 0)) !== 200) await new Promise((resolve) => setTimeout(resolve, 50));
  const hot = packagePaths('bench/live');
  const problems = await compareServers(primary.url, nginxUrl, ['config.json', hot.index, hot.outline('1.0.0'), hot.bundle('1.0.0')]);
  process.stdout.write(problems.length === 0 ? "nginx with docs/nginx.conf on a replica's folder answers as the primary's gateway\n" : `nginx on the replica differs from the gateway:\n  ${problems.join('\n  ')}\n`);

  process.stdout.write(`\nreads of ${hot.index} (${connections} connections, ${seconds} s; ${pinned ? 'one core for the servers, the other for wrk unless said' : 'not pinned'}; load average now ${load()}):\n`);
  const pid = (server: Server) => server.child.pid as number;
  process.stdout.write(row('the primary (gateway) on core 0', await reads([{ url: primary.url, pid: pid(primary) }], hot.index, core(1))));
  process.stdout.write(row('replica A on core 0', await reads([{ url: a.url, pid: pid(a) }], hot.index, core(1))));
  process.stdout.write(row('nginx on replica A\'s folder, core 0', await reads([{ url: nginxUrl, pid: nginx.pid as number }], hot.index, core(1))));
  process.stdout.write(row('replicas A (core 0) and B (core 1), wrk on both', await reads([{ url: a.url, pid: pid(a) }, { url: b.url, pid: pid(b) }], hot.index, [])));
  process.stdout.write(row('the primary alone on both cores, wrk on both', await reads([{ url: primary.url, pid: pid(primary) }], hot.index, [])));
  process.stdout.write(`load average after: ${load()}\n`);
  nginx.kill('SIGTERM');
  access.close();
  await Promise.all([stop(a), stop(b), stop(primary)]);
}

await main();
