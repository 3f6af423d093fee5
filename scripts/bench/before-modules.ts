import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { VersionEntry } from '../../gateway/packages/version-index.ts';

/**
 * The parts of an earlier build of the registry (extracted by before-build.ts) that the
 * benchmark's child processes use, typed here as that build declares them: the build's own
 * index repository, configuration, data layout, accounts and admin tools, loaded from its
 * folder, so that what they write is what that build wrote.
 */

type Logger = { info(event: string, fields?: object): void; warn(event: string, fields?: object): void; error(event: string, fields?: object): void };
type Clock = { now(): Date };
type FileChange = { path: string; content: Uint8Array };

export type BeforeIndexRepo = {
  update(make: () => { message: string; changes: FileChange[]; result: null }): Promise<unknown>;
  maintain(): Promise<void>;
  close(): Promise<void>;
};

export type BeforeAccounts = {
  users: { ensure(email: string): unknown };
  identities: { create(name: string, adminEmail: string): unknown };
  close(): void;
};

export type BeforeModules = {
  openIndexRepo(options: { gitDir: string; servedDir: string | null; clock: Clock; log: Logger; name: string; required: Record<string, Uint8Array> }): Promise<BeforeIndexRepo>;
  loadConfig(env: Record<string, string>): unknown;
  indexConfigFile(config: unknown): Uint8Array;
  dataPaths(dataDir: string): { publicGit: string; publicServed: string; accounts: string };
  /** Its paths of a package; `bundleRef` only in builds that keep bundles on refs of their own. */
  packagePaths(name: string): { index: string; outline(version: string): string; bundle(version: string): string; bundleRef?: (version: string) => string };
  encodeIndex(index: { name: string; versions: VersionEntry[] }): Uint8Array;
  openAccounts(options: { file: string; clock: Clock; log: Logger }): BeforeAccounts;
  openPublishAccess(options: { accountsFile: string; adminEmail: string; clock: Clock; log: Logger }): { tokenFor(author: string): { token: string } | { refused: string }; close(): void };
  systemClock: Clock;
  quietLogger(): Logger;
};

/** The files each part comes from, relative to the build's folder. */
const FILES = [
  'index-repo/open-index-repo.ts',
  'gateway/config.ts',
  'gateway/index-config.ts',
  'gateway/registry.ts',
  'gateway/packages/version-index.ts',
  'gateway/accounts/accounts.ts',
  'gateway/clock.ts',
  'scripts/admin/publish-access.ts',
  'scripts/admin/ops-cli.ts',
];

export const BEFORE_FILES: readonly string[] = FILES;

/** Imports the parts from the build in `root`; fails naming any part the build lacks. */
export async function loadBeforeModules(root: string): Promise<BeforeModules> {
  const loaded: Record<string, unknown> = {};
  for (const file of FILES) Object.assign(loaded, await import(pathToFileURL(path.join(root, file)).href));
  const wanted = ['openIndexRepo', 'loadConfig', 'indexConfigFile', 'dataPaths', 'packagePaths', 'encodeIndex', 'openAccounts', 'openPublishAccess', 'systemClock', 'quietLogger'];
  const missing = wanted.filter((name) => loaded[name] === undefined);
  if (missing.length > 0) throw new Error(`the build in ${root} lacks ${missing.join(', ')}`);
  return loaded as BeforeModules;
}
