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

/** The paths of one package's files in an index repository. */
export const packagePaths = (fullName: string) => ({
  index: `packages/${fullName}/index.json`,
  outline: (version: string) => `packages/${fullName}/${version}/gren.json`,
  bundle: (version: string) => `packages/${fullName}/${version}/bundle.pkg.gz`,
});

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
