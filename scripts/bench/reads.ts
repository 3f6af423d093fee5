#!/usr/bin/env node
// Read benchmark: requests per second and latency (p50, p99) for an index.json and a ~30 KB
// bundle, and their 304 revalidations, from the gateway (`node scripts/start.ts`, as `npm start`
// runs it) and from nginx serving the same data folder with docs/nginx.conf, in the same run,
// with the same load (wrk, loopback). Prints figures; never a test.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../gateway/config.ts';
import { dataPaths } from '../../gateway/registry.ts';
import { fillReadData, type ReadFiles } from './read-data.ts';
import { accessLogLines, startNginx, writeNginxConfig } from './nginx.ts';
import { cloneMatches, compareServers } from './read-checks.ts';
import { rawRequest } from '../../test/helpers/http.ts';
import { rotationScript, runWrk, type LoadResult } from './wrk.ts';
import { cpuSeconds } from './process-cpu.ts';
import { cleanUpAtExit } from './process-tree.ts';
import { freePort } from '../../test/helpers/registry.ts';
import { ensureTools } from './debian-tools.ts';

const help = `Usage: node scripts/bench/reads.ts [--seconds N] [--rounds N] [--connections N] [--packages N] [--no-access-log]

  --seconds N      Length of each measured run (default 10; a 2 s warm-up precedes it).
  --rounds N       Rounds over every case, alternating the servers; the median round counts (default 1).
  --connections N  Open connections of the load (default 64).
  --packages N     Packages in the index besides the hot one (default 500).
  --no-access-log  Run nginx without its access log (the gateway always logs each request).

Installs nginx and wrk from Debian when missing (apt-get). With two cores or more, each
server runs on core 0 and wrk on core 1.
`;

const { values: options } = parseArgs({ options: { seconds: { type: 'string' }, rounds: { type: 'string' }, connections: { type: 'string' }, packages: { type: 'string' }, 'no-access-log': { type: 'boolean' }, help: { type: 'boolean' } } });
if (options.help) {
  process.stdout.write(help);
  process.exit(0);
}
const seconds = Number(options.seconds ?? 10);
const rounds = Number(options.rounds ?? 1);
const connections = Number(options.connections ?? 64);
const packages = Number(options.packages ?? 500);
const repoRoot = path.resolve(import.meta.dirname, '../..');
const pinned = os.availableParallelism() >= 2 && spawnSync('taskset', ['--version']).status === 0;
const serverCore = pinned ? ['taskset', '-c', '0'] : [];
const loadCore = pinned ? ['taskset', '-c', '1'] : [];

type Server = { name: 'nginx' | 'gateway'; base: string; child: ChildProcess; logLines: () => number };
type Case = { label: string; path: string; conditional: boolean; script?: string };
type Measured = LoadResult & { cpuMicros: number | null };
type Row = { label: string; nginx: Measured; gateway: Measured };

const children: ChildProcess[] = [];
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'gren-bench-reads-'));
// Whatever happens (an error, Ctrl-C), no process of the run outlives it (nginx's worker and
// wrk included), nor its temp folder.
cleanUpAtExit(() => fs.rmSync(work, { recursive: true, force: true }));

/** Waits until `url` answers, or fails with what the process said. */
async function waitFor(url: string, child: ChildProcess, said: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${url}: the server exited: ${said().slice(-2000)}`);
    const status = await rawRequest(url, new URL(url).pathname).then((a) => a.status, () => 0);
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`${url}: no answer within a minute: ${said().slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The registry as `npm start` runs it, its stdout (the request log) counted line by line. */
async function startGateway(dataDir: string, port: number, registryUrl: string): Promise<Server> {
  const env = { ...process.env, REGISTRY_DATA: dataDir, PORT: String(port), HOST: '127.0.0.1', REGISTRY_URL: registryUrl };
  const [command, ...args] = [...serverCore, process.execPath, path.join(repoRoot, 'scripts/start.ts')];
  const child = spawn(command as string, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let lines = 0;
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) lines++;
  });
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const base = `http://127.0.0.1:${port}`;
  await waitFor(`${base}/healthz`, child, () => stderr);
  return { name: 'gateway', base, child, logLines: () => lines };
}

async function startNginxServer(work: string, dataDir: string, port: number, gatewayPort: number): Promise<Server> {
  const main = writeNginxConfig(work, { LISTEN: `127.0.0.1:${port}`, REGISTRY_DATA: dataDir, GATEWAY: `127.0.0.1:${gatewayPort}` }, !options['no-access-log']);
  execFileSync('nginx', ['-t', '-q', '-c', main, '-e', path.join(work, 'error.log')], { stdio: 'inherit' });
  const child = startNginx(main, serverCore);
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const base = `http://127.0.0.1:${port}`;
  await waitFor(`${base}/index/config.json`, child, () => stderr + fs.readFileSync(path.join(work, 'error.log'), 'utf8'));
  return { name: 'nginx', base, child, logLines: () => accessLogLines(work) };
}

/** One measured run of one case on one server, after a warm-up: its load figures and CPU per request; checks one log line per request. */
async function measure(server: Server, test: Case): Promise<Measured> {
  const target = `/index/${test.path}`;
  const headers: Record<string, string> = {};
  if (test.conditional) headers['If-None-Match'] = String((await rawRequest(server.base, target)).headers.etag);
  const load = { url: `${server.base}${target}`, connections, headers, prefix: loadCore, ...(test.script ? { script: test.script } : {}) };
  await runWrk({ ...load, seconds: 2 });
  const before = server.logLines();
  const cpuBefore = cpuSeconds(server.child.pid as number);
  const result = await runWrk({ ...load, seconds });
  const cpuAfter = cpuSeconds(server.child.pid as number);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const logged = server.logLines() - before;
  if (logged < result.requests && (server.name === 'gateway' || !options['no-access-log'])) process.stdout.write(`  note: ${server.name} logged ${logged} lines for ${result.requests} requests\n`);
  const cpuMicros = cpuBefore === null || cpuAfter === null ? null : ((cpuAfter - cpuBefore) / result.requests) * 1e6;
  return { ...result, cpuMicros };
}

function cases(work: string, files: ReadFiles): Case[] {
  return [
    { label: 'index.json (12 versions)', path: files.hotIndex, conditional: false },
    { label: 'index.json, 304', path: files.hotIndex, conditional: true },
    { label: 'bundle (~30 KB)', path: files.hotBundle, conditional: false },
    { label: 'bundle, 304', path: files.hotBundle, conditional: true },
    { label: `index.json of ${files.indexes.length} packages in turn`, path: files.hotIndex, conditional: false, script: rotationScript(work, files.indexes.map((p) => `/index/${p}`)) },
  ];
}

const cell = (text: string, width: number) => text.padStart(width);

/** The run of median throughput. */
function median(runs: Measured[]): Measured {
  return [...runs].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond)[Math.floor(runs.length / 2)] as Measured;
}

/** requests/s, p50, p99 and CPU µs a request, for each server; the gateway's share of nginx's throughput, and of its CPU cost. */
function printTable(rows: Row[], sizes: Record<string, number>): void {
  const figures = (m: Measured) => [m.requestsPerSecond.toFixed(0), `${m.p50.toFixed(2)}ms`, `${m.p99.toFixed(2)}ms`, m.cpuMicros === null ? '-' : m.cpuMicros.toFixed(1)];
  const widths = [8, 8, 9, 7];
  const head = ['req/s', 'p50', 'p99', 'µs CPU'];
  const side = (values: string[]) => values.map((v, i) => cell(v, widths[i] as number)).join(' ');
  process.stdout.write(`\n${''.padEnd(34)} ${'nginx'.padEnd(35)}   ${'gateway'.padEnd(35)}   gateway/nginx\n`);
  process.stdout.write(`${'case'.padEnd(34)} ${side(head)}   ${side(head)}   ${cell('req/s', 6)} ${cell('CPU', 6)}\n`);
  for (const { label, nginx, gateway } of rows) {
    const throughput = `${(gateway.requestsPerSecond / nginx.requestsPerSecond).toFixed(2)}x`;
    const cpu = nginx.cpuMicros && gateway.cpuMicros ? `${(gateway.cpuMicros / nginx.cpuMicros).toFixed(1)}x` : '-';
    process.stdout.write(`${label.padEnd(34)} ${side(figures(nginx))}   ${side(figures(gateway))}   ${cell(throughput, 6)} ${cell(cpu, 6)}\n`);
    const failed = nginx.failures + gateway.failures;
    if (failed > 0) process.stdout.write(`  failures: nginx ${nginx.failures}, gateway ${gateway.failures}\n`);
  }
  process.stdout.write(`\nsizes: ${Object.entries(sizes).map(([name, bytes]) => `${name} ${bytes} bytes`).join(', ')}\n`);
  process.stdout.write('µs CPU: user and system time of the server (nginx: master and worker) per request; it hardly moves when other programs share the machine, requests/s does.\n');
}

async function main(): Promise<void> {
  ensureTools(['nginx', 'wrk']);
  fs.chmodSync(work, 0o755);
  try {
    const [gatewayPort, nginxPort] = [await freePort(), await freePort()];
    const dataDir = path.join(work, 'data');
    const registryUrl = `http://127.0.0.1:${nginxPort}`;
    process.stdout.write(`filling ${dataDir} with ${packages + 1} packages...\n`);
    const files = await fillReadData(loadConfig({ REGISTRY_DATA: dataDir, PORT: String(gatewayPort), REGISTRY_URL: registryUrl }), packages);
    const gateway = await startGateway(dataDir, gatewayPort, registryUrl);
    const nginx = await startNginxServer(work, dataDir, nginxPort, gatewayPort);
    const problems = await compareServers(gateway.base, nginx.base, ['config.json', files.hotIndex, files.hotOutline, files.hotBundle]);
    process.stdout.write(problems.length === 0 ? 'nginx with docs/nginx.conf answers as the gateway: files, headers, 304, HEAD, escapes\n' : `nginx differs from the gateway:\n  ${problems.join('\n  ')}\n`);
    const head = execFileSync('git', ['--git-dir', dataPaths(dataDir).publicGit, 'rev-parse', 'main'], { encoding: 'utf8' }).trim();
    process.stdout.write(`git clone through nginx: ${cloneMatches(nginx.base, work, head) ? 'equals main' : 'DIFFERS from main'}\n`);
    const logs = options['no-access-log'] ? 'nginx without its access log' : 'both logging each request';
    process.stdout.write(`${pinned ? 'servers on core 0, wrk on core 1' : 'not pinned to cores'}; ${connections} connections, ${seconds} s a run, ${rounds} round(s); ${logs}\n`);
    const runs = new Map<string, { nginx: Measured[]; gateway: Measured[] }>();
    for (let round = 0; round < rounds; round++) {
      for (const test of cases(work, files)) {
        const seen = runs.get(test.label) ?? { nginx: [], gateway: [] };
        runs.set(test.label, seen);
        seen.nginx.push(await measure(nginx, test));
        seen.gateway.push(await measure(gateway, test));
      }
    }
    const rows: Row[] = [...runs].map(([label, seen]) => ({ label, nginx: median(seen.nginx), gateway: median(seen.gateway) }));
    const sizes = { 'index.json': (await rawRequest(gateway.base, `/index/${files.hotIndex}`)).body.length, bundle: (await rawRequest(gateway.base, `/index/${files.hotBundle}`)).body.length };
    printTable(rows, sizes);
  } finally {
    await Promise.all(children.map(stop));
  }
}

/** SIGTERM (nginx's fast shutdown, the registry's orderly close), then SIGKILL after five seconds. */
function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

await main();
