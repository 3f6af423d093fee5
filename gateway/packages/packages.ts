import type { Clock } from '../clock.ts';
import type { Logger } from '../log.ts';
import type { LocalIndexRepo } from '../../index-repo/open-index-repo.ts';
import type { Notifier } from '../notifications/notifier.ts';
import { Catalog, loadCatalog } from './catalog.ts';
import { settleContent } from './content-layout.ts';
import { createKeyedLock, type KeyedLock } from './keyed-lock.ts';
import { createListing } from './listing.ts';
import { incompatibleVersions, latestVersion, previousVersion } from './queries.ts';
import { publishVersion, type PublishInput, type Published } from './publish.ts';
import { revokeVersion, type RevokeInput } from './revoke.ts';
import { findVersion, type VersionEntry } from './version-index.ts';

export type { PublishInput, Published } from './publish.ts';
export type { RevokeInput } from './revoke.ts';

export type PackagesDeps = { index: LocalIndexRepo; privateIndex: LocalIndexRepo; notifier: Notifier; clock: Clock; log: Logger };

/** What publish and revoke share: the repositories, the in-memory catalog, the per-package lock. */
export type PackagesContext = PackagesDeps & { catalog: Catalog; lock: KeyedLock };

/** Publishing, revoking and querying packages, public and private. Permissions are the caller's to check. */
export interface Packages {
  /** The package as registered (its exact name and visibility), or null; names match case-insensitively. */
  find(fullName: string): { name: string; private: boolean } | null;
  publish(input: PublishInput): Promise<Published>;
  /** Revokes a version; answers its index entry. `404 not_found` for an unknown package or version. */
  revoke(input: RevokeInput): Promise<VersionEntry>;
  /** For a package `find` knows: see queries.ts. */
  latest(fullName: string, gren: string | null): string;
  previous(fullName: string, version: string): string;
  /** The versions whose `gren-version` does not admit the compiler version `gren` (hidden from that compiler's Git view). */
  incompatible(fullName: string, gren: string): string[];
  /** The body of `GET /packages` and its validator. */
  listing(): { body: Buffer; etag: string };
}

export async function createPackages(deps: PackagesDeps): Promise<Packages> {
  const catalog = await loadCatalog(deps.index, deps.privateIndex);
  await settleContent({ repo: deps.index, catalog, isPrivate: false, log: deps.log });
  await settleContent({ repo: deps.privateIndex, catalog, isPrivate: true, log: deps.log });
  const ctx: PackagesContext = { ...deps, catalog, lock: createKeyedLock() };
  await deps.notifier.recover({
    head: deps.index.head(),
    history: () => deps.index.history(),
    settle: async (event) => {
      const record = catalog.get(event.package);
      const entry = record && !record.private ? findVersion(record.index, event.version) : null;
      const happened = entry !== null && (event.event === 'publish' || entry.revoked !== null);
      return happened ? deps.index.head() : null;
    },
  });
  deps.log.info('packages_loaded', { packages: catalog.size });
  const indexOf = (fullName: string) => {
    const record = catalog.get(fullName);
    if (!record) throw new Error(`unknown package ${fullName}`);
    return record.index;
  };
  return {
    find(fullName) {
      const record = catalog.get(fullName);
      return record ? { name: record.name, private: record.private } : null;
    },
    publish: (input) => publishVersion(ctx, input),
    revoke: (input) => revokeVersion(ctx, input),
    latest: (fullName, gren) => latestVersion(indexOf(fullName), gren),
    previous: (fullName, version) => previousVersion(indexOf(fullName), version),
    incompatible: (fullName, gren) => incompatibleVersions(indexOf(fullName), gren),
    listing: createListing(catalog),
  };
}
