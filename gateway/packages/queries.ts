import { fail } from '../errors.ts';
import { compareVersions, inRange, parseRange } from './range.ts';
import { liveVersions, type VersionEntry, type VersionIndex } from './version-index.ts';

/** Whether a version's `gren-version` range holds the compiler version `gren`. */
function admits(entry: VersionEntry, gren: string): boolean {
  const range = parseRange(entry['gren-version']);
  return range !== null && inRange(gren, range);
}

/** The versions, revoked or not, that a compiler of version `gren` cannot use: their `gren-version` range does not hold it. */
export function incompatibleVersions(index: VersionIndex, gren: string): string[] {
  return index.versions.filter((entry) => !admits(entry, gren)).map((entry) => entry.version);
}

/**
 * The greatest unrevoked version whose `gren-version` range holds `gren` (any unrevoked
 * version when `gren` is null); `404 no_matching_version` when there is none.
 */
export function latestVersion(index: VersionIndex, gren: string | null): string {
  const candidates = liveVersions(index).filter((entry) => gren === null || admits(entry, gren));
  const found = candidates.at(-1);
  if (!found) {
    throw fail('no_matching_version', gren === null ? `${index.name} has no unrevoked version.` : `${index.name} has no unrevoked version for Gren ${gren}.`);
  }
  return found.version;
}

/** The greatest unrevoked version lower than `version` (which need not exist); `404 no_matching_version` when none. */
export function previousVersion(index: VersionIndex, version: string): string {
  const found = liveVersions(index)
    .filter((entry) => compareVersions(entry.version, version) < 0)
    .at(-1);
  if (!found) throw fail('no_matching_version', `${index.name} has no unrevoked version lower than ${version}.`);
  return found.version;
}
