import type { Snapshot } from '../../index-repo/types.ts';
import { compareVersions } from './range.ts';

/** One version's entry in a package's `index.json` (docs/protocol.md, The static index). */
export type VersionEntry = {
  version: string;
  'gren-version': string;
  platform: string;
  dependencies: Record<string, string>;
  sha256: string;
  size: number;
  published: string;
  revoked: { at: string; reason: string | null } | null;
};

/** A package's `index.json`: every version, in ascending version order. */
export type VersionIndex = { name: string; versions: VersionEntry[] };

/** The Git namespace of a package's content refs: what `GIT_NAMESPACE=<author>/<name>` selects. */
export function packageNamespace(fullName: string): string {
  const [author, name] = fullName.split('/') as [string, string];
  return `refs/namespaces/${author}/refs/namespaces/${name}/`;
}

/**
 * The paths of one package's files in an index repository: on `main`, its `index.json` and each
 * version's `gren.json`; on content refs of its namespace, each version's source tree (a tag:
 * what `git clone --branch <version>` checks out) and its bundle (a blob, served at `bundle`).
 */
export const packagePaths = (fullName: string) => ({
  index: `packages/${fullName}/index.json`,
  outline: (version: string) => `packages/${fullName}/${version}/gren.json`,
  bundle: (version: string) => `packages/${fullName}/${version}/bundle.pkg.gz`,
  tagRef: (version: string) => `${packageNamespace(fullName)}refs/tags/${version}`,
  bundleRef: (version: string) => `${packageNamespace(fullName)}refs/bundles/${version}`,
});

const bundleRefPattern = /^refs\/namespaces\/([^/]+)\/refs\/namespaces\/([^/]+)\/refs\/bundles\/([^/]+)$/;
const bundlePathPattern = /^packages\/([^/]+)\/([^/]+)\/([^/]+)\/bundle\.pkg\.gz$/;

/** The content refs of a package version, read from a ref name: which package, version and kind; null for any other ref. */
export function parseContentRef(ref: string): { fullName: string; version: string; kind: 'tags' | 'bundles' } | null {
  const match = /^refs\/namespaces\/([^/]+)\/refs\/namespaces\/([^/]+)\/refs\/(tags|bundles)\/([^/]+)$/.exec(ref);
  if (!match) return null;
  const [, author, name, kind, version] = match as unknown as [string, string, string, 'tags' | 'bundles', string];
  return { fullName: `${author}/${name}`, version, kind };
}

/**
 * Whether `main` records the version a content ref belongs to (published, revoked or not): a ref
 * the registry had, whose deletion on a mirror is the registry's to make. A ref of any other
 * name, or of a version never published, is someone else's.
 */
export async function recordsContentRef(snapshot: Snapshot, ref: string): Promise<boolean> {
  const parsed = parseContentRef(ref);
  if (!parsed) return false;
  const index = await snapshot.readJson<VersionIndex>(packagePaths(parsed.fullName).index);
  return findVersion(index, parsed.version) !== null;
}

/** Bundles are served as files at `packages/<a>/<n>/<v>/bundle.pkg.gz`, from their blob refs. */
export const servedBundles = {
  pathOf(ref: string): string | null {
    const match = bundleRefPattern.exec(ref);
    return match ? `packages/${match[1]}/${match[2]}/${match[3]}/bundle.pkg.gz` : null;
  },
  refOf(file: string): string | null {
    const match = bundlePathPattern.exec(file);
    return match ? packagePaths(`${match[1]}/${match[2]}`).bundleRef(match[3] as string) : null;
  },
};

export function findVersion(index: VersionIndex | null, version: string): VersionEntry | null {
  return index?.versions.find((entry) => entry.version === version) ?? null;
}

/** A copy of `index` (or a new one) holding `entry` in version order. */
export function withVersion(index: VersionIndex | null, name: string, entry: VersionEntry): VersionIndex {
  const versions = [...(index?.versions ?? []), entry].sort((a, b) => compareVersions(a.version, b.version));
  return { name: index?.name ?? name, versions };
}

/** A copy of `index` with `version` marked revoked. */
export function withRevoked(index: VersionIndex, version: string, revoked: NonNullable<VersionEntry['revoked']>): VersionIndex {
  return { ...index, versions: index.versions.map((entry) => (entry.version === version ? { ...entry, revoked } : entry)) };
}

/** The unrevoked versions, ascending. */
export function liveVersions(index: VersionIndex): VersionEntry[] {
  return index.versions.filter((entry) => entry.revoked === null);
}

/** `index.json` as written to the repository: two-space JSON with a final newline. */
export function encodeIndex(index: VersionIndex): Uint8Array {
  return Buffer.from(JSON.stringify(index, null, 2) + '\n');
}
