import crypto from 'node:crypto';
import type { RefState, ReplicaRepo } from '../../index-repo/replica-repo.ts';
import type { Snapshot } from '../../index-repo/types.ts';
import { packageKey } from '../packages/package-name.ts';
import { compareVersions } from '../packages/range.ts';
import { liveVersions, packagePaths, servedBundles, type VersionEntry, type VersionIndex } from '../packages/version-index.ts';

/** One package of a state: its registered name, its `index.json`, and the blob id that was read from. */
export type ReplicaPackage = { name: string; index: VersionIndex; oid: string };

/** The packages of a state, by case-insensitive name (`packageKey`). */
export type ReplicaPackages = ReadonlyMap<string, ReplicaPackage>;

/**
 * A state of the public index checked whole, ready to serve: `main`, and exactly the content
 * refs of the versions its `index.json` files list unrevoked (refs a source has ahead of `main`,
 * a publish under way there, are left for a later state), with the bundles at their paths.
 */
export type CheckedState = {
  main: string;
  rootTree: string;
  refs: Map<string, string>;
  /** Served path of each bundle to its blob id. */
  bundles: Map<string, string>;
  packages: ReplicaPackages;
  versions: number;
};

/** What the last served state is known to hold, so that only what is new is read and checked. */
export type KnownState = { packages: ReplicaPackages; refs: ReadonlyMap<string, string> };

export const NOTHING_KNOWN: KnownState = { packages: new Map(), refs: new Map() };

/** A state that is not whole: what is missing or wrong, for the log. */
export class IncompleteState extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IncompleteState';
  }
}

/**
 * Checks a fetched state of the index and answers what to serve of it, or throws
 * `IncompleteState`. Every unrevoked version must have its tag, its bundle and its `gren.json`,
 * and each bundle not served before must be the one its `index.json` entry names (SHA-256 and
 * size); a source read between a revoke's commit and the deletion of its refs, say, fails this
 * and is fetched again. `known` is what the served state held: packages whose `index.json` is
 * the same blob are not read again, and bundles served already are not read again.
 */
export async function checkState(repo: ReplicaRepo, fetched: RefState & { main: string }, known: KnownState): Promise<CheckedState> {
  const snapshot = await repo.snapshot(fetched, servedBundles);
  const packages = await readPackages(snapshot, known.packages);
  const refs = new Map<string, string>();
  const bundles = new Map<string, string>();
  for (const { name, index } of packages.values()) {
    for (const entry of liveVersions(index)) {
      const paths = packagePaths(name);
      const tag = fetched.refs.get(paths.tagRef(entry.version));
      const bundle = fetched.refs.get(paths.bundleRef(entry.version));
      if (tag === undefined || bundle === undefined) throw new IncompleteState(`${name} ${entry.version} is listed without its content refs`);
      if (known.refs.get(paths.bundleRef(entry.version)) !== bundle) await checkNewVersion(snapshot, name, entry, bundle);
      refs.set(paths.tagRef(entry.version), tag);
      refs.set(paths.bundleRef(entry.version), bundle);
      bundles.set(paths.bundle(entry.version), bundle);
    }
  }
  return { main: fetched.main, rootTree: (await snapshot.entry(''))?.oid as string, refs, bundles, packages, versions: bundles.size };
}

/** Every package's `index.json` in a state: the known parse when the blob is the same, else read. */
async function readPackages(snapshot: Snapshot, known: ReplicaPackages): Promise<Map<string, ReplicaPackage>> {
  const packages = new Map<string, ReplicaPackage>();
  for (const author of (await snapshot.list('packages')) ?? []) {
    for (const name of (await snapshot.list(`packages/${author}`)) ?? []) {
      const fullName = `${author}/${name}`;
      const entry = await snapshot.entry(packagePaths(fullName).index);
      if (entry?.type !== 'blob') continue;
      const before = known.get(packageKey(fullName));
      if (before?.oid === entry.oid) {
        packages.set(packageKey(fullName), before);
        continue;
      }
      const index = JSON.parse((await snapshot.readBlob(entry.oid)).toString('utf8')) as VersionIndex;
      index.versions.sort((a, b) => compareVersions(a.version, b.version));
      packages.set(packageKey(fullName), { name: fullName, index, oid: entry.oid });
    }
  }
  return packages;
}

/** A version served for the first time: its `gren.json` is on `main`, its bundle is the one `index.json` names. */
async function checkNewVersion(snapshot: Snapshot, name: string, entry: VersionEntry, bundle: string): Promise<void> {
  if ((await snapshot.entry(packagePaths(name).outline(entry.version)))?.type !== 'blob') {
    throw new IncompleteState(`${name} ${entry.version} is listed without its gren.json`);
  }
  const bytes = await snapshot.readBlob(bundle);
  const sha256 = crypto.createHash('sha256').update(bytes).digest('hex');
  if (sha256 !== entry.sha256 || bytes.length !== entry.size) throw new IncompleteState(`${name} ${entry.version}'s bundle differs from the SHA-256 and size its index.json lists`);
}
