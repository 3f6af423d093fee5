#!/usr/bin/env node
// Soak: the registry as `npm start` runs it, under a bounded mix of publishes, revokes, logins,
// index and API reads and Git clones from many clients on loopback, for a few minutes, with its
// memory, descriptors and event-loop delay sampled. Prints their growth, and fails loudly (exit
// 1) when one grows without bound, an answer is unexpected or a git command fails.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import { systemClock } from '../../gateway/clock.ts';
import { dataPaths } from '../../gateway/registry.ts';
import { freePort } from '../../test/helpers/registry.ts';
import { openPublishAccess } from '../admin/publish-access.ts';
import { quietLogger } from '../admin/ops-cli.ts';
import { watchOutbox } from './login-outbox.ts';
import { currentBuild } from './current-build.ts';
import { cleanUpAtExit } from './process-tree.ts';
import { spawnBuild } from './registry-build.ts';
import { loadAverage } from './run-log.ts';
import { waitUntilAnswering } from './server-process.ts';
import { createSoakCatalog, type SoakCatalog } from './soak-catalog.ts';
import { fillSoak, readEverything } from './soak-fill.ts';
import { createLogins, logIn } from './soak-login.ts';
import { gitCommand, publish, readApi, readIndex, revoke, type ClientState, type OpsContext } from './soak-ops.ts';
import { createTally, type Kind, type Tally } from './soak-tally.ts';
import { atRest, judgeRest, mb, startSampling } from './soak-sampling.ts';
import { retryClosedConnections } from './fetch-retry.ts';
import { criteria, judgeTrends } from './soak-verdict.ts';

/** What the bundles filled in before the start weigh: more than the registry's caches of blobs and ready files (64 and 32 MiB). */
const fillMiB = 128;
const help = `Usage: npm run bench:soak -- [--minutes N] [--warm-up-minutes N] [--clients N] [--git N] [--sample-seconds N]

Fills a temporary data folder with ${fillMiB} MiB of bundles (more than the registry's caches
hold) and starts the registry on it as \`npm start\` does (login mail to its outbox, the publish
limit lifted, one trusted proxy hop so that each login comes from an address of its own), reads
every file once, then runs N clients, each doing one operation after another, at random: reads
of /index/ files (conditional ones too), API reads (latest, previous, the package list, health),
publishes of new versions of 24 packages of 3 publishing identities, revokes of every third
version published, logins (by the mailed code or the link's page; the admin's soon meet its
mailbox's limit, 429) each used and logged out, and Git commands (shallow clones of a version,
ls-remote, a shallow clone of the index; at most --git at once). Every few seconds it reads the
registry's GET /metrics (RSS, heap, open descriptors, event-loop delay p99) and /proc (RSS,
descriptors, child processes) and prints a line. At the end: operations by kind, each metric's
trend over the measured minutes, the registry at rest before and after, and the verdict.

  --minutes N          How long the load is measured (default 3).
  --warm-up-minutes N  How long the same load runs before, at least (default 3): a Node
                       process's memory settles for minutes under a new load (V8 doubles its
                       young generation once, the C allocator reaches its high-water mark), so
                       the warm-up also lasts until V8's heap has held its size for a minute (at
                       most 5 minutes more). Printed, not judged.
  --clients N          Clients at once (default 16).
  --git N              Git commands at once, at most (default 2).
  --sample-seconds N   Between samples (default: the measured time / 36, from 2 to 10).

${criteria}
`;

const { values: options } = parseArgs({
  options: { minutes: { type: 'string' }, 'warm-up-minutes': { type: 'string' }, clients: { type: 'string' }, git: { type: 'string' }, 'sample-seconds': { type: 'string' }, help: { type: 'boolean' } },
});
if (options.help) {
  process.stdout.write(help);
  process.exit(0);
}
const minutes = Number(options.minutes ?? 3);
const warmUpMinutes = Number(options['warm-up-minutes'] ?? 3);
const clients = Number(options.clients ?? 16);
const gitAtOnce = Number(options.git ?? 2);
const sampleSeconds = Number(options['sample-seconds'] ?? Math.min(10, Math.max(2, (minutes * 60) / 36)));
for (const [name, value] of Object.entries({ minutes, clients, git: gitAtOnce, 'sample-seconds': sampleSeconds })) {
  if (!(value > 0) || (name !== 'minutes' && name !== 'sample-seconds' && !Number.isInteger(value))) {
    process.stderr.write(`--${name} must be a positive ${name === 'minutes' || name === 'sample-seconds' ? 'number' : 'whole number'}\n${help}`);
    process.exit(2);
  }
}
if (!(warmUpMinutes >= 0)) {
  process.stderr.write(`--warm-up-minutes must be 0 or more\n${help}`);
  process.exit(2);
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'gren-bench-soak-'));
// Whatever happens (an error, Ctrl-C), no process of the run outlives it, nor its temp folder.
cleanUpAtExit(() => fs.rmSync(work, { recursive: true, force: true }));
const authors = ['soak-a', 'soak-b', 'soak-c'];
const adminEmail = 'soak-admin@example.com';
/** The operations' shares of the mix, in percent. */
const mix: Array<[Kind, number]> = [['index', 40], ['api', 25], ['publish', 12], ['revoke', 4], ['login', 6], ['git', 13]];

/** The registry's log lines of level warn and error, counted by event. */
function logCounter() {
  const events = new Map<string, number>();
  return {
    events,
    onLine(line: string) {
      if (!line.includes('"level":"error"') && !line.includes('"level":"warn"')) return;
      const { level, event } = JSON.parse(line) as { level: string; event: string };
      events.set(`${level} ${event}`, (events.get(`${level} ${event}`) ?? 0) + 1);
    },
  };
}

/** SIGTERM, as a service manager stops it; answers its exit code (null when a signal ended it). */
function stopGracefully(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });
}

/**
 * The data folder filled, the registry started on it, its identities, the admin's session (which
 * publishes and revokes), its Git spawner running and its caches full.
 */
async function setUp(log: ReturnType<typeof logCounter>) {
  const dataDir = path.join(work, 'data');
  const [port, metricsPort] = [await freePort(), await freePort()];
  const catalog = createSoakCatalog(authors, 8);
  const filled = await fillSoak({ dataDir, port, catalog, each: 40, bytes: fillMiB * 1024 * 1024 });
  const url = `http://127.0.0.1:${port}`;
  const server = spawnBuild(currentBuild, dataDir, port, { env: { REGISTRY_URL: url, METRICS_PORT: String(metricsPort), TRUST_PROXY: '1' }, onLine: log.onLine });
  await waitUntilAnswering(`${url}/healthz`, server);
  const access = openPublishAccess({ accountsFile: dataPaths(dataDir).accounts, adminEmail, clock: systemClock, log: quietLogger() });
  for (const author of authors) {
    const made = access.tokenFor(author);
    if ('refused' in made) throw new Error(made.refused);
  }
  access.close();
  const outbox = watchOutbox(path.join(dataDir, 'outbox'));
  const loginContext = { url: url, outbox, adminEmail, identity: authors[0] as string };
  const session = await logIn(loginContext, adminEmail, { 'x-forwarded-for': '10.255.255.254' });
  const ctx: OpsContext = { url: url, catalog, token: session, work };
  // The first Git request starts the registry's Git spawner: before the load, so that it counts at rest.
  await gitCommand(ctx);
  await readEverything(url, catalog);
  const versions = catalog.packages.reduce((n, p) => n + p.published.length, 1);
  console.log(`filled: ${catalog.packages.length + 1} packages, ${versions} versions, ${mb(filled)} of bundles, each file read once`);
  return { registry: server.child, outbox, ctx, loginContext, metricsUrl: `http://127.0.0.1:${metricsPort}/metrics` };
}

/** Picks the next operation by the mix; Git only with a slot free, revoke only with a version waiting. */
function chooseKind(catalog: SoakCatalog, gitFree: boolean): Kind {
  const allowed = mix.filter(([kind]) => (kind !== 'git' || gitFree) && (kind !== 'revoke' || catalog.packages.some((p) => p.revocable.length > 0)));
  let r = Math.random() * allowed.reduce((s, [, w]) => s + w, 0);
  for (const [kind, weight] of allowed) if ((r -= weight) < 0) return kind;
  return 'index';
}

/** Runs the clients until `until()`; each waits 0 to 40 ms between its operations, as programs do between steps. */
async function runClients(ctx: OpsContext, login: () => Promise<void>, tally: Tally, until: () => number): Promise<void> {
  let gitBusy = 0;
  const operations: Record<Kind, (client: ClientState) => Promise<void>> = {
    index: (client) => readIndex(ctx, client),
    api: (client) => readApi(ctx, client),
    publish: () => publish(ctx),
    revoke: async () => void (await revoke(ctx)),
    login,
    git: async () => {
      gitBusy += 1;
      try {
        await gitCommand(ctx);
      } finally {
        gitBusy -= 1;
      }
    },
  };
  const one = async () => {
    const client: ClientState = { etags: new Map() };
    while (Date.now() < until()) {
      const kind = chooseKind(ctx.catalog, gitBusy < gitAtOnce);
      await tally.run(kind, () => operations[kind](client));
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 40));
    }
  };
  await Promise.all(Array.from({ length: clients }, one));
}

async function main(): Promise<void> {
  const log = logCounter();
  const retries = retryClosedConnections();
  console.log(`Soak: ${warmUpMinutes} min of warm-up, then ${minutes} min measured; ${clients} clients, at most ${gitAtOnce} git commands at once, a sample every ${sampleSeconds} s; ${os.availableParallelism()} cores, load average ${loadAverage()}`);
  const { registry, outbox, ctx, loginContext, metricsUrl } = await setUp(log);
  const pid = registry.pid as number;
  const before = await atRest(metricsUrl, pid);
  const tally = createTally();
  const started = Date.now();
  const sampling = startSampling({ metricsUrl, pid, tally, started, everySeconds: sampleSeconds, warmUpSeconds: warmUpMinutes * 60, measuredSeconds: minutes * 60 });
  await runClients(ctx, createLogins(loginContext), tally, sampling.deadline);
  const seconds = (Date.now() - started) / 1000;
  sampling.stop();
  const after = await atRest(metricsUrl, pid);
  outbox.close();
  const exitCode = await stopGracefully(registry);

  console.log('');
  tally.print(seconds);
  console.log(`requests sent again after the registry had closed their kept-alive connection: ${retries.retries()}\n`);
  const failures = [...judgeTrends(sampling.samples), ...judgeRest(before, after)];
  for (const [key, count] of log.events) console.log(`registry log: ${count}x ${key}`);
  if ([...log.events.keys()].some((k) => k.startsWith('error '))) failures.push('the registry logged errors (above)');
  const { failed } = tally.totals();
  if (failed > 0) failures.push(`${failed} operations failed: unexpected answers, failed requests or git commands (above)`);
  if (exitCode !== 0) failures.push(`the registry exited ${exitCode} on SIGTERM, not 0`);
  console.log(`\nload average at the end: ${loadAverage()}`);
  for (const failure of failures) console.log(`FAIL: ${failure}`);
  if (failures.length > 0) process.exit(1);
  console.log('PASS: nothing grows without bound, every answer was expected');
}

await main();
