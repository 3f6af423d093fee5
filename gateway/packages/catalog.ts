import type { IndexRepo, Snapshot } from '../../index-repo/types.ts';
import { packageKey } from './package-name.ts';
import { compareVersions } from './range.ts';
import { liveVersions, packagePaths, type VersionIndex } from './version-index.ts';

/** What the registry keeps in memory about one package, public or private. */
export type PackageRecord = {
  name: string;
  private: boolean;
  index: VersionIndex;
  /** The summary of the greatest unrevoked version (of the greatest version when all are revoked). */
  summary: string;
  /** The Git blob id of the `index.json` that `index` mirrors. */
  indexOid: string | null;
};

/**
 * Every package of both repositories, by case-insensitive name: the in-memory mirror of
 * their `index.json` files, loaded once at start and updated after each commit, so that
 * queries and the listing never read the repositories. Writers of a package update its
 * record while they hold that package's lock.
 */
export class Catalog {
  private readonly records = new Map<string, PackageRecord>();
  /** Grows on every change, so that views built from the catalog know when they are stale. */
  generation = 0;

  get(fullName: string): PackageRecord | null {
    return this.records.get(packageKey(fullName)) ?? null;
  }

  set(record: PackageRecord): void {
    this.records.set(packageKey(record.name), record);
    this.generation++;
  }

  /** Every package, public and private. */
  all(): PackageRecord[] {
    return [...this.records.values()];
  }

  /** Public packages, sorted by name. */
  publicRecords(): PackageRecord[] {
    return [...this.records.values()].filter((record) => !record.private).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  get size(): number {
    return this.records.size;
  }
}

/** The version whose summary represents the package: the greatest unrevoked, else the greatest. */
export function summaryVersion(index: VersionIndex): string | null {
  const live = liveVersions(index);
  return (live.length > 0 ? live : index.versions).at(-1)?.version ?? null;
}

/** Reads the summary of the representative version from a snapshot. */
export async function readSummary(snapshot: Snapshot, index: VersionIndex): Promise<string> {
  const version = summaryVersion(index);
  if (version === null) return '';
  const outline = await snapshot.readJson<{ summary?: unknown }>(packagePaths(index.name).outline(version));
  return typeof outline?.summary === 'string' ? outline.summary : '';
}

/**
 * Re-reads one package's record from a repository's `main`, after an update that failed in
 * an unknown state (its commit may or may not have been made), so that queries tell the truth.
 */
export async function refreshRecord(catalog: Catalog, repo: IndexRepo, fullName: string, isPrivate: boolean): Promise<void> {
  const snapshot = repo.snapshot();
  const index = await snapshot.readJson<VersionIndex>(packagePaths(fullName).index);
  if (index) catalog.set({ name: fullName, private: isPrivate, index, summary: await readSummary(snapshot, index), indexOid: await indexOidAt(snapshot, fullName) });
}

/** The blob id of a package's `index.json` in a snapshot (a walk of cached trees, no blob read). */
export async function indexOidAt(snapshot: Snapshot, fullName: string): Promise<string | null> {
  return (await snapshot.entry(packagePaths(fullName).index))?.oid ?? null;
}

/**
 * A package's `index.json` as a snapshot holds it: the catalog's parsed copy when it mirrors
 * that very blob, so that a plan in the commit queue reads nothing from disk; else read.
 */
export async function indexAt(record: PackageRecord | null, snapshot: Snapshot, fullName: string): Promise<VersionIndex | null> {
  const oid = await indexOidAt(snapshot, fullName);
  if (oid === null) return null;
  if (record !== null && record.name === fullName && record.indexOid === oid) return record.index;
  return snapshot.readJson<VersionIndex>(packagePaths(fullName).index);
}

async function loadRepo(catalog: Catalog, repo: IndexRepo, isPrivate: boolean): Promise<void> {
  const snapshot = repo.snapshot();
  for (const author of (await snapshot.list('packages')) ?? []) {
    const names = (await snapshot.list(`packages/${author}`)) ?? [];
    await Promise.all(
      names.map(async (name) => {
        const index = await snapshot.readJson<VersionIndex>(packagePaths(`${author}/${name}`).index);
        if (!index) return;
        index.versions.sort((a, b) => compareVersions(a.version, b.version));
        const fullName = `${author}/${name}`;
        catalog.set({ name: fullName, private: isPrivate, index, summary: await readSummary(snapshot, index), indexOid: await indexOidAt(snapshot, fullName) });
      }),
    );
  }
}

/** Builds the catalog from the `main` of both repositories. */
export async function loadCatalog(index: IndexRepo, privateIndex: IndexRepo): Promise<Catalog> {
  const catalog = new Catalog();
  await loadRepo(catalog, index, false);
  await loadRepo(catalog, privateIndex, true);
  return catalog;
}
