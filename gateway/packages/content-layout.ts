import zlib from 'node:zlib';
import type { LocalIndexRepo } from '../../index-repo/open-index-repo.ts';
import type { RefChange, Snapshot } from '../../index-repo/types.ts';
import type { Logger } from '../log.ts';
import type { Catalog, PackageRecord } from './catalog.ts';
import { sourceTree } from './source-tree.ts';
import { liveVersions, packagePaths, parseContentRef, servedBundles, type VersionEntry } from './version-index.ts';

/**
 * The layout versions of an index repository: 1 kept each bundle on `main` (a revoke deleted it
 * from the tree, not from history); 2 keeps content on refs of each package's namespace.
 */
export const CONTENT_REFS_FORMAT = 2;

/** Content ref changes applied per commit when many are made at once (a conversion, a repair). */
const CHUNK = 200;

export type ContentLayoutDeps = { repo: LocalIndexRepo; catalog: Catalog; isPrivate: boolean; log: Logger };

/** The records of the catalog that live in this repository. */
function recordsOf({ catalog, isPrivate }: ContentLayoutDeps): PackageRecord[] {
  return catalog.all().filter((record) => record.private === isPrivate);
}

/** Applies ref changes in commits of a few hundred, without changing `main`. */
async function applyRefs(repo: LocalIndexRepo, message: string, changes: RefChange[]): Promise<void> {
  for (let i = 0; i < changes.length; i += CHUNK) {
    const refs = changes.slice(i, i + CHUNK);
    await repo.update(() => ({ message, changes: [], refs, result: null }));
  }
}

/** The source tree of a version, rebuilt from its bundle: what its tag names, the same commit as at publish. */
async function tagFor(snapshot: Snapshot, fullName: string, entry: VersionEntry, bundleOid: string): Promise<RefChange> {
  const paths = packagePaths(fullName);
  const gren = await snapshot.readFile(paths.outline(entry.version));
  if (gren === null) throw new Error(`${fullName} ${entry.version} has no gren.json on main`);
  const content = JSON.parse(zlib.gunzipSync(await snapshot.readBlob(bundleOid)).toString('utf8')) as { sources: Record<string, string> };
  const files = sourceTree(gren, content.sources);
  return { ref: paths.tagRef(entry.version), commit: { files, message: `${fullName} ${entry.version}\n`, time: new Date(entry.published) } };
}

/**
 * Converts a repository written before content refs, in place: each unrevoked version's bundle
 * (on `main` until now) gets its blob ref, then `main`'s history is rewritten without any
 * bundle, every commit kept with its author, date and message, so that revoked bundles are in
 * no commit any more; the purge that follows removes them from disk. Safe to run again after a
 * crash: every step gives the same result the second time.
 */
async function convert(deps: ContentLayoutDeps): Promise<void> {
  const { repo, log } = deps;
  const snapshot = repo.snapshot();
  const refs: RefChange[] = [];
  for (const record of recordsOf(deps)) {
    const paths = packagePaths(record.name);
    for (const entry of liveVersions(record.index)) {
      const onMain = await snapshot.entry(paths.bundle(entry.version));
      if (onMain?.type === 'blob') refs.push({ ref: paths.bundleRef(entry.version), object: onMain.oid });
    }
  }
  await applyRefs(repo, 'Keep each bundle on a ref of its own', refs);
  const replaced = await repo.replaceHistory((file) => servedBundles.refOf(file) === null);
  await repo.setFormat(CONTENT_REFS_FORMAT);
  log.warn('index_converted', { repo: deps.isPrivate ? 'private' : 'public', bundles: refs.length, commits: replaced.commits, commit: replaced.commit });
}

/**
 * Brings the content refs in line with `main`, after a crash or a conversion: refs of a version
 * `main` does not list as unrevoked are deleted (a publish cut short, or a revoke whose refs
 * outlived its commit); a live version whose tag is missing gets it back, rebuilt from its
 * bundle. A live version without its bundle cannot be rebuilt: it is logged, and
 * `scripts/verify.ts` reports it.
 */
async function reconcile(deps: ContentLayoutDeps): Promise<void> {
  const { repo, log } = deps;
  const snapshot = repo.snapshot();
  const live = new Map<string, VersionEntry>();
  for (const record of recordsOf(deps)) for (const entry of liveVersions(record.index)) live.set(`${record.name} ${entry.version}`, entry);
  const changes: RefChange[] = [];
  const refs = snapshot.refs();
  for (const ref of refs.keys()) {
    const parsed = parseContentRef(ref);
    if (!parsed || !live.has(`${parsed.fullName} ${parsed.version}`)) changes.push({ ref, delete: true });
  }
  let missing = 0;
  for (const [key, entry] of live) {
    const fullName = key.slice(0, key.indexOf(' '));
    const paths = packagePaths(fullName);
    const bundle = refs.get(paths.bundleRef(entry.version));
    if (bundle === undefined) {
      missing++;
      log.error('content_missing', { package: fullName, version: entry.version });
      continue;
    }
    if (!refs.has(paths.tagRef(entry.version))) changes.push(await tagFor(snapshot, fullName, entry, bundle));
  }
  if (changes.length > 0) {
    log.warn('content_refs_repaired', { repo: deps.isPrivate ? 'private' : 'public', changes: changes.length });
    await applyRefs(repo, 'Bring content refs in line with main', changes);
  }
  if (missing > 0) log.error('content_missing_total', { repo: deps.isPrivate ? 'private' : 'public', versions: missing });
}

/**
 * At start: converts a repository in an older layout, brings content refs in line with `main`,
 * and purges what neither reaches any more.
 */
export async function settleContent(deps: ContentLayoutDeps): Promise<void> {
  if (deps.repo.format() < CONTENT_REFS_FORMAT) await convert(deps);
  await reconcile(deps);
  await deps.repo.purge();
}
