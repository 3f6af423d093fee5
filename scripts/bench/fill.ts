import zlib from 'node:zlib';
import { systemClock } from '../../gateway/clock.ts';
import type { Config } from '../../gateway/config.ts';
import { indexConfigFile } from '../../gateway/index-config.ts';
import { dataPaths, openPackageRepo } from '../../gateway/registry.ts';
import { versionChanges } from '../../gateway/packages/publish.ts';
import { encodeIndex, packagePaths, type VersionEntry } from '../../gateway/packages/version-index.ts';
import type { FileChange, RefChange } from '../../index-repo/types.ts';
import { quietLogger } from '../admin/ops-cli.ts';
import { versionEntryOf } from '../../test/helpers/bundle.ts';

/** A package to fill: its name, and the bundle of each of its versions. */
export type FillPackage = { name: string; versions: Array<{ version: string; bytes: Buffer }> };

/** A bundle as a publish has read it: its bytes, and the outline and sources inside. */
export type ReadBundle = { bytes: Buffer; outline: Record<string, unknown>; sources: Record<string, string> };

export function readBundle(bytes: Buffer): ReadBundle {
  const { outline, sources } = JSON.parse(zlib.gunzipSync(bytes).toString('utf8')) as { outline: Record<string, unknown>; sources: Record<string, string> };
  return { bytes, outline, sources };
}

/** The index.json entry of one version, as a publish writes it. */
export function entryOf(version: string, { outline, bytes }: ReadBundle, published: string): VersionEntry {
  return versionEntryOf(version, bytes, outline, published);
}

/** What one version adds, as a publish adds it: gren.json on main, its content refs, and its index.json entry. */
export function versionOf(name: string, version: string, bundle: ReadBundle, published: string): { changes: FileChange[]; refs: RefChange[]; entry: VersionEntry } {
  const { outline, bytes } = bundle;
  return { ...versionChanges({ name, version, outline, bytes, sources: bundle.sources, published }), entry: entryOf(version, bundle, published) };
}

/** The changes that put one package, every version, into the registry's layout, as publishes would. */
function packageChanges({ name, versions }: FillPackage): { changes: FileChange[]; refs: RefChange[] } {
  const changes: FileChange[] = [];
  const refs: RefChange[] = [];
  const entries: VersionEntry[] = [];
  for (const { version, bytes } of versions) {
    const one = versionOf(name, version, readBundle(bytes), new Date().toISOString());
    changes.push(...one.changes);
    refs.push(...one.refs);
    entries.push(one.entry);
  }
  changes.push({ path: packagePaths(name).index, content: encodeIndex({ name, versions: entries }) });
  return { changes, refs };
}

/** Hands `items` to `commit` fifty at a time, in order, waiting for each batch. */
export async function inBatches<T>(items: Iterable<T>, commit: (batch: T[]) => Promise<void>): Promise<void> {
  let batch: T[] = [];
  for (const item of items) {
    batch.push(item);
    if (batch.length === 50) {
      await commit(batch);
      batch = [];
    }
  }
  if (batch.length > 0) await commit(batch);
}

/**
 * Fills a registry data folder through the index repository itself, in the layout publishes
 * leave (metadata on main, content on refs), fifty packages a commit: much faster than
 * publishing each version, for benchmarks that need a registry already holding thousands.
 * Packs the objects at the end, as a running registry's maintenance would have.
 */
export async function fillPackages(config: Config, packages: Iterable<FillPackage>): Promise<void> {
  const index = await openPackageRepo(dataPaths(config.dataDir), 'public', { clock: systemClock, log: quietLogger(), required: { 'config.json': indexConfigFile(config) } });
  try {
    await inBatches(packages, async (batch) => {
      const parts = batch.map(packageChanges);
      await index.update(() => ({ message: `Fill ${parts.length} packages`, changes: parts.flatMap((p) => p.changes), refs: parts.flatMap((p) => p.refs), result: null }));
    });
    await index.maintain();
  } finally {
    await index.close();
  }
}
