import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { systemClock } from '../../gateway/clock.ts';
import { loadConfig } from '../../gateway/config.ts';
import { dataPaths } from '../../gateway/registry.ts';
import { openAccounts } from '../../gateway/accounts/accounts.ts';
import { packagePaths } from '../../gateway/packages/version-index.ts';
import { openPublishAccess } from '../admin/publish-access.ts';
import { quietLogger } from '../admin/ops-cli.ts';
import { fillPackages } from './fill.ts';
import { heldBundles } from './held-bundles.ts';
import { addIdentities, ADMIN, PUBLIC_URL, treeOfMain, type Acknowledged, type Durability, type RegistryBuild } from './registry-build.ts';
import type { Workload } from './publish-workloads.ts';

const log = quietLogger();

/**
 * A data folder holding what `workload` holds at `versions` versions, filled through the index
 * repository (see fill.ts; ~1.5 KB bundles unless `padding` says) and packed, with a publishing identity for every
 * author, ADMIN its admin. Each round works on a copy of it.
 */
async function fill(dir: string, workload: Workload, versions: number, padding?: number): Promise<void> {
  await fillPackages(loadConfig({ REGISTRY_DATA: dir, REGISTRY_URL: PUBLIC_URL }), heldBundles(workload, versions, padding));
  addIdentities(openAccounts({ file: dataPaths(dir).accounts, clock: systemClock, log }), workload.held(versions).map((p) => p.author));
}

/** Publish tokens through the admin tools' own access (minted when first asked for, revoked at `close`). */
async function tokens(dir: string): Promise<{ tokenFor(author: string): string; close(): Promise<void> }> {
  const access = openPublishAccess({ accountsFile: dataPaths(dir).accounts, adminEmail: ADMIN, clock: systemClock, log });
  return {
    tokenFor(author) {
      const grant = access.tokenFor(author);
      if (!('token' in grant)) throw new Error(grant.refused);
      return grant.token;
    },
    close: async () => access.close(),
  };
}

/** After a kill -9: how many acknowledged publishes `git` finds whole: gren.json on main, bundle and tag on their refs. */
function durable(dir: string, acknowledged: Acknowledged[]): Durability {
  const gitDir = dataPaths(dir).publicGit;
  const tree = treeOfMain(gitDir);
  const refs = new Set(execFileSync('git', ['--git-dir', gitDir, 'for-each-ref', '--format=%(refname)', 'refs/namespaces/'], { maxBuffer: 1 << 30 }).toString().split('\n'));
  const whole = ({ name, version }: Acknowledged) => {
    const paths = packagePaths(name);
    return tree.has(paths.outline(version)) && refs.has(paths.bundleRef(version)) && refs.has(paths.tagRef(version));
  };
  return { acknowledged: acknowledged.length, whole: acknowledged.filter(whole).length };
}

/** The registry as this checkout runs it (`npm start`), its publish limit lifted: one identity publishes hundreds of versions a round. */
export const currentBuild: RegistryBuild = {
  key: 'gren',
  label: 'registry',
  root: path.resolve(import.meta.dirname, '../..'),
  env: { PUBLISH_BURST: '1000000' },
  logsTimings: true,
  fill,
  tokens,
  durable,
  wholeMeans: 'gren.json on main, bundle and tag refs',
};
