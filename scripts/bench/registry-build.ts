import { execFileSync } from 'node:child_process';
import type { RunName, Workload } from './publish-workloads.ts';
import { spawnServer, type ServerProcess } from './server-process.ts';

/** The public address the registry names in its index; the same for every round, so that no round starts with a commit of its own. */
export const PUBLIC_URL = 'http://registry.bench.example';
/** The admin of every publishing identity of a template, whose publish tokens the clients use. */
export const ADMIN = 'bench@example.com';

/** One publish the registry acknowledged, and the run it belongs to. */
export type Acknowledged = { name: string; version: string; run: RunName };

/** What `git` found of the acknowledged publishes after a SIGKILL. */
export type Durability = { acknowledged: number; whole: number };

/** A round's publish tokens, one per author, minted before the clock runs; `close` revokes them. */
export type RoundTokens = { tokenFor(author: string): string; close(): Promise<void> };

/**
 * A build of the Gren registry the publish and clone benchmarks measure: the code it runs from,
 * how a data folder holding a workload is filled in the layout that code reads, how its publish
 * tokens are minted, and what `git` must find for an acknowledged publish to count as whole.
 * Each build is started as `node scripts/start.ts` from its own `root`, over the same HTTP API.
 */
export type RegistryBuild = {
  /** Which of the two builds a run can measure it is: this checkout's, or an earlier commit's. */
  key: 'gren' | 'before';
  /** Names it in the report. */
  label: string;
  /** The folder holding its `scripts/start.ts`, and the server's working directory. */
  root: string;
  /** What its environment adds to the data folder, port, host and public address. */
  env: Record<string, string>;
  /** Whether it logs `publish_timings` lines under LOG_TIMINGS=1. */
  logsTimings: boolean;
  /** Fills `dir` with what `workload` holds at `versions` versions (bundles of about `padding` bytes; HELD_PADDING unless told), with a publishing identity for every author, ADMIN its admin. */
  fill(dir: string, workload: Workload, versions: number, padding?: number): Promise<void>;
  /** Mints a publish token for each of `authors` in the data folder `dir`. */
  tokens(dir: string, authors: string[]): Promise<RoundTokens>;
  /** After a SIGKILL: how many of the acknowledged publishes are whole in the data folder `dir`. */
  durable(dir: string, acknowledged: Acknowledged[]): Durability;
  /** What whole means for it, as the report says it. */
  wholeMeans: string;
};

/** The paths in `main`'s tree of the repository at `gitDir`, as `git` lists them. */
export function treeOfMain(gitDir: string): Set<string> {
  return new Set(execFileSync('git', ['--git-dir', gitDir, 'ls-tree', '-r', '--name-only', 'main'], { maxBuffer: 1 << 30 }).toString().split('\n'));
}

/** The accounts of a build, as far as a template needs them. */
type TemplateAccounts = { users: { ensure(email: string): unknown }; identities: { create(name: string, adminEmail: string): unknown }; close(): void };

/** Makes ADMIN a user and the admin of a publishing identity named after each author, then closes `accounts`. */
export function addIdentities(accounts: TemplateAccounts, authors: Iterable<string>): void {
  try {
    accounts.users.ensure(ADMIN);
    for (const author of new Set(authors)) accounts.identities.create(author, ADMIN);
  } finally {
    accounts.close();
  }
}

/**
 * Starts `build` as `npm start` runs it, `node scripts/start.ts` from its own folder, on the data
 * folder `dir` at 127.0.0.1:`port`, naming PUBLIC_URL; `env` adds to the build's environment,
 * `onLine` receives each line of its log. Does not wait for it to answer.
 */
export function spawnBuild(build: RegistryBuild, dir: string, port: number, options: { env?: Record<string, string>; onLine?: (line: string) => void } = {}): ServerProcess {
  const env = { REGISTRY_DATA: dir, PORT: String(port), HOST: '127.0.0.1', REGISTRY_URL: PUBLIC_URL, ...build.env, ...options.env };
  return spawnServer(process.execPath, ['scripts/start.ts'], { cwd: build.root, env, ...(options.onLine ? { onLine: options.onLine } : {}) });
}
