#!/usr/bin/env node
// Mirror lag: the time from the answer to the last publish of a burst to the mirror holding
// exactly the registry's refs, for a bare repository on a path and for one behind
// `git http-backend` over HTTP with Basic auth, on a registry already holding some versions.
// The peer, in the same run: one plain `git push --mirror` of the same repository to a mirror
// of the same kind right after the burst, as a post-commit hook would push (the floor: no
// listing, no coalescing, no care for what the mirror holds). Prints figures; never a test.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { bundle } from '../../test/helpers/bundle.ts';
import { startGitHttpServer } from '../../test/helpers/git-http-server.ts';
import { registryRefs } from '../../test/helpers/mirror.ts';
import { systemClock } from '../../gateway/clock.ts';
import { loadConfig } from '../../gateway/config.ts';
import { createLogger, type Logger } from '../../gateway/log.ts';
import { dataPaths, openRegistry } from '../../gateway/registry.ts';
import { fillPackages, type FillPackage } from './fill.ts';
import { openPublishAccess } from '../admin/publish-access.ts';
import { median, ms, percentile, table } from './stats.ts';

const run = promisify(execFile);
const { values } = parseArgs({ options: { rounds: { type: 'string', default: '7' }, burst: { type: 'string', default: '16' }, fill: { type: 'string', default: '1000' }, help: { type: 'boolean' } } });
if (values.help) {
  process.stdout.write('Usage: node scripts/bench/mirror-lag.ts [--rounds 7] [--burst 16] [--fill 1000]\n');
  process.exit(0);
}
const rounds = Number(values.rounds);
const burstSize = Number(values.burst);
const fill = Number(values.fill);

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'gren-bench-mirror-'));
process.once('exit', () => fs.rmSync(work, { recursive: true, force: true }));
const dataDir = path.join(work, 'data');
const hostRoot = path.join(work, 'host');
fs.mkdirSync(hostRoot);
for (const repo of [path.join(work, 'path.git'), path.join(work, 'peer.git'), path.join(hostRoot, 'index.git'), path.join(hostRoot, 'peer.git')]) {
  await run('git', ['init', '--quiet', '--bare', repo]);
}
const password = 'bench-token';
const host = await startGitHttpServer({ root: hostRoot, user: 'x-access-token', password });
const mirrors = { path: path.join(work, 'path.git'), http: path.join(hostRoot, 'index.git') };

// No publish limit: a benchmark publishes far more than a person would.
const config = loadConfig({ REGISTRY_DATA: dataDir, PORT: '0', PUBLISH_BURST: '1000000', MIRROR_URLS: `${mirrors.path},${host.repoUrl('index.git')}` });
const fillers: FillPackage[] = Array.from({ length: fill / 10 }, (_, p) => ({
  name: `fill/p${p}`,
  versions: Array.from({ length: 10 }, (_, v) => ({ version: `1.0.${v}`, bytes: bundle({ name: `fill/p${p}`, version: `1.0.${v}`, padding: 2000 }) })),
}));
await fillPackages(config, fillers);

const pushed: Array<{ mirror: string; at: number; durationMs: number }> = [];
const stderr = createLogger((line) => process.stderr.write(line));
const log: Logger = {
  info: (event, fields) => void (event === 'mirror_pushed' && pushed.push({ mirror: String(fields?.mirror), at: performance.now(), durationMs: Number(fields?.durationMs) })),
  warn: stderr.warn,
  error: stderr.error,
};
const opened = performance.now();
const registry = await openRegistry(config, { log });
const { url } = await registry.listen();
const source = registry.deps.index.gitDir;

/** Waits until `mirror` holds exactly the registry's refs; answers when, by performance.now(). */
async function equalAt(mirror: string): Promise<number> {
  for (;;) {
    const [ours, theirs] = await Promise.all([registryRefs(source), registryRefs(mirror)]);
    if (ours === theirs) return performance.now();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const initial = await Promise.all([equalAt(mirrors.path), equalAt(mirrors.http)]);
console.log(`registry of ${fill} versions: first sync of empty mirrors ${ms(initial[0] - opened)} (path), ${ms(initial[1] - opened)} (HTTP) after opening`);

// The peers' mirrors start equal too, so that each round's peer push carries one burst, as ours do.
await peerPush(path.join(work, 'peer.git'));
await peerPush(host.repoUrl('peer.git'));

const access = openPublishAccess({ accountsFile: dataPaths(dataDir).accounts, adminEmail: 'bench@example.com', clock: systemClock, log });
const grant = access.tokenFor('bench');
if (!('token' in grant)) throw new Error(grant.refused);
const token = grant.token;

/** One plain `git push --mirror` of the registry's repository; answers its duration. */
async function peerPush(target: string): Promise<number> {
  const started = performance.now();
  await run('git', ['--git-dir', source, 'push', '--quiet', '--mirror', target], { env: { ...process.env, GIT_TERMINAL_PROMPT: '0' } });
  return performance.now() - started;
}

async function publish(name: string): Promise<void> {
  const res = await fetch(`${url}/packages/${name}/1.0.0`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/gzip' }, body: bundle({ name, version: '1.0.0', padding: 30_000 }) });
  if (res.status !== 201) throw new Error(`publish ${name}: ${res.status} ${await res.text()}`);
}

const lag = { path: [] as number[], http: [] as number[], peerPath: [] as number[], peerHttp: [] as number[], syncs: [] as number[] };
for (let round = 0; round < rounds; round++) {
  const before = pushed.length;
  await Promise.all(Array.from({ length: burstSize }, (_, i) => publish(`bench/r${round}-p${i}`)));
  const acked = performance.now();
  const [atPath, atHttp] = await Promise.all([equalAt(mirrors.path), equalAt(mirrors.http)]);
  lag.path.push(atPath - acked);
  lag.http.push(atHttp - acked);
  lag.syncs.push((pushed.length - before) / 2);
  // The peer, path and HTTP first in turn.
  const peers = [() => peerPush(path.join(work, 'peer.git')), () => peerPush(host.repoUrl('peer.git'))];
  const [first, second] = round % 2 === 0 ? peers : [...peers].reverse();
  const a = await first!();
  const b = await second!();
  lag.peerPath.push(round % 2 === 0 ? a : b);
  lag.peerHttp.push(round % 2 === 0 ? b : a);
}

console.log(`\n${rounds} rounds of ${burstSize} publishes at once (different packages, ~30 KB bundles), after ${fill} versions:\n`);
const row = (label: string, values: number[]) => [label, ms(median(values)), ms(percentile(values, 90)), ms(Math.max(...values))];
table(['', 'median', 'p90', 'max'], [
  row('lag, path mirror', lag.path),
  row('peer: git push --mirror, path', lag.peerPath),
  row('lag, HTTP mirror', lag.http),
  row('peer: git push --mirror, HTTP', lag.peerHttp),
]);
const durations = (mirror: string) => pushed.filter((p) => p.mirror.startsWith(mirror)).slice(1).map((p) => p.durationMs);
console.log(`\nsyncs per burst and mirror: median ${median(lag.syncs)}, max ${Math.max(...lag.syncs)}`);
console.log(`one sync (one atomic push; the mirror's refs listed again every 10 minutes): median ${ms(median(durations('/')))} (path), ${ms(median(durations('http')))} (HTTP)`);

access.close();
await registry.close();
await host.close();
