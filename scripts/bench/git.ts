#!/usr/bin/env node
// Git benchmark: `git ls-remote` and `git clone --depth 1 --branch` of one package from the
// registry (`node scripts/start.ts`, as `npm start` runs it) while 8 clients publish to it,
// beside the same commands against `git http-backend` under a bare HTTP server on the same
// repository, in alternating rounds; medians, and their ratio. Prints figures; never a test.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { parseArgs, promisify } from 'node:util';
import { systemClock } from '../../gateway/clock.ts';
import { dataPaths } from '../../gateway/registry.ts';
import { bundle } from '../../test/helpers/bundle.ts';
import { freePort } from '../../test/helpers/registry.ts';
import { openPublishAccess } from '../admin/publish-access.ts';
import { quietLogger } from '../admin/ops-cli.ts';
import { startBareGitServer } from './bare-git-server.ts';
import { cleanUpAtExit } from './process-tree.ts';
import { median, ms, table } from './stats.ts';

const help = `Usage: node scripts/bench/git.ts [--versions N] [--rounds N] [--runs N] [--publishers N] [--protocol 0|2]

  --versions N    Versions of the measured package (default 50), ~30 KB bundles.
  --rounds N      Rounds, alternating which server goes first (default 24: under load one
                  command takes 30 to 270 ms, and medians of fewer runs moved 20% from run to run).
  --runs N        Runs of each command on each server in a round (default 5).
  --publishers N  Clients publishing all along (default 8).
  --protocol V    Git protocol version the client asks for (default 2).
`;

const { values: options } = parseArgs({ options: { versions: { type: 'string' }, rounds: { type: 'string' }, runs: { type: 'string' }, publishers: { type: 'string' }, protocol: { type: 'string' }, help: { type: 'boolean' } } });
if (options.help) {
  process.stdout.write(help);
  process.exit(0);
}
const versions = Number(options.versions ?? 50);
const rounds = Number(options.rounds ?? 24);
const runs = Number(options.runs ?? 5);
const publishers = Number(options.publishers ?? 8);
const protocol = options.protocol ?? '2';
const repoRoot = path.resolve(import.meta.dirname, '../..');
const run = promisify(execFile);
const measured = 'bench/served';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'gren-bench-git-'));
// Whatever happens (an error, Ctrl-C), no process of the run outlives it, nor its temp folder.
cleanUpAtExit(() => fs.rmSync(work, { recursive: true, force: true }));

/** The registry as `npm start` runs it, the publish limit lifted: one token publishes without pause here. */
async function startRegistry(dataDir: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // The publishers publish hundreds of versions with one token: the publish limit is lifted.
  const child = spawn(process.execPath, [path.join(repoRoot, 'scripts/start.ts')], { cwd: repoRoot, env: { ...process.env, REGISTRY_DATA: dataDir, PORT: String(port), HOST: '127.0.0.1', REGISTRY_URL: url, PUBLISH_BURST: '1000000' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the registry exited: ${stderr.slice(-2000)}`);
    if (await fetch(`${url}/healthz`).then((r) => r.ok, () => false)) return { url, child };
    if (Date.now() > deadline) throw new Error(`the registry did not start: ${stderr.slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function publish(url: string, token: string, name: string, version: string, padding: number): Promise<number> {
  const started = performance.now();
  const res = await fetch(`${url}/packages/${name}/${version}`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/gzip' }, body: bundle({ name, version, padding, exposed: ['Bench', 'Bench.Parts'] }) });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`publish ${name} ${version}: ${res.status} ${text}`);
  return performance.now() - started;
}

/** Clients publishing new versions of their own packages until stopped; answers every latency. */
function publishLoad(url: string, token: string): { stop(): Promise<number[]> } {
  let stopping = false;
  const latencies: number[] = [];
  const clients = Array.from({ length: publishers }, async (_, client) => {
    for (let i = 0; !stopping; i++) latencies.push(await publish(url, token, `bench/load-${client}`, `1.0.${i}`, 30_000));
  });
  return {
    async stop() {
      stopping = true;
      await Promise.all(clients);
      return latencies;
    },
  };
}

/** Milliseconds one git command takes, run as a client runs it. */
async function timed(args: string[]): Promise<number> {
  const started = performance.now();
  await run('git', ['-c', `protocol.version=${protocol}`, ...args], { env: { ...process.env, GIT_TERMINAL_PROMPT: '0' }, maxBuffer: 1 << 26 });
  return performance.now() - started;
}

type Samples = { lsRemote: number[]; clone: number[] };
type Server = { label: string; url: string; samples: Samples };

async function measureServer(base: string, latest: string, into: Samples): Promise<void> {
  const repository = `${base}/git/${measured}.git`;
  for (let i = 0; i < runs; i++) into.lsRemote.push(await timed(['ls-remote', repository]));
  for (let i = 0; i < runs; i++) {
    const dir = path.join(work, `clone-${Math.random().toString(36).slice(2)}`);
    into.clone.push(await timed(['clone', '--quiet', '--depth', '1', '--branch', latest, repository, dir]));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const dataDir = path.join(work, 'data');
  process.stdout.write(`Git benchmark: ${os.cpus().length} cores, ${publishers} publishing clients, protocol v${protocol}, ${versions} versions of ${measured}\n`);
  const registry = await startRegistry(dataDir);
  const access = openPublishAccess({ accountsFile: dataPaths(dataDir).accounts, adminEmail: 'bench@example.com', clock: systemClock, log: quietLogger() });
  const grant = access.tokenFor('bench');
  if (!('token' in grant)) throw new Error(grant.refused);
  const gitDir = dataPaths(dataDir).publicGit;
  let latest = '';
  for (let i = 0; i < versions; i++) {
    latest = `1.${i}.0`;
    await publish(registry.url, grant.token, measured, latest, 30_000);
  }
  const bare = await startBareGitServer(gitDir);
  const bareNiced = await startBareGitServer(gitDir, 10);
  const empty = (): Samples => ({ lsRemote: [], clone: [] });
  const servers: Server[] = [
    { label: 'bare http-backend', url: bare.url, samples: empty() },
    { label: 'bare, nice 10', url: bareNiced.url, samples: empty() },
    { label: 'registry', url: registry.url, samples: empty() },
  ];
  for (const server of servers) await measureServer(server.url, latest, empty());
  const load = publishLoad(registry.url, grant.token);
  for (let round = 0; round < rounds; round++) {
    // Each round starts with the next server, so that none always runs first or last.
    for (let i = 0; i < servers.length; i++) {
      const server = servers[(round + i) % servers.length] as Server;
      await measureServer(server.url, latest, server.samples);
    }
  }
  const publishLatencies = await load.stop();
  report(servers, publishLatencies);
  await bareNiced.close();
  access.close();
  await bare.close();
  registry.child.kill('SIGTERM');
  await new Promise((resolve) => registry.child.once('exit', resolve));
}

function report(servers: Server[], publishLatencies: number[]): void {
  const [bare, niced, registry] = servers as [Server, Server, Server];
  const row = (label: string, key: keyof Samples) => {
    const [b, n, r] = [median(bare.samples[key]), median(niced.samples[key]), median(registry.samples[key])];
    return [label, ms(b), ms(n), ms(r), `${(r / b).toFixed(2)}x`, `${(r / n).toFixed(2)}x`, String(registry.samples[key].length)];
  };
  process.stdout.write('\n');
  table(['command (median)', bare.label, niced.label, registry.label, 'registry/bare', 'registry/bare nice 10', 'runs each'], [row('git ls-remote', 'lsRemote'), row('git clone --depth 1 --branch', 'clone')]);
  if (publishLatencies.length > 0) process.stdout.write(`\n${publishLatencies.length} publishes meanwhile from ${publishers} clients: median ${ms(median(publishLatencies))}, p99 ${ms(percentile99(publishLatencies))}\n`);
  process.stdout.write('target: registry within 1.2x of the bare http-backend. The registry runs Git at nice 10 on purpose (publishes first):\n');
  process.stdout.write('on a machine whose CPUs are busy, "registry/bare nice 10" is the cost of the gateway alone.\n');
}

const percentile99 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.max(0, Math.ceil(values.length * 0.99) - 1)] as number;

await main();
