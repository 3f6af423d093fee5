import type { Snapshot, FileChange, RefChange } from '../../index-repo/types.ts';
import { ApiError, fail } from '../errors.ts';
import type { Bundle } from './bundle.ts';
import type { Outline } from './outline.ts';
import type { PackagesContext } from './packages.ts';
import { indexAt, indexOidAt, summaryVersion } from './catalog.ts';
import { checkDependencies } from './dependencies.ts';
import { notifyCommitted, settleUnknown } from './notify.ts';
import { encodeIndex, findVersion, packagePaths, withVersion, type VersionEntry, type VersionIndex } from './version-index.ts';
import { sourceTree } from './source-tree.ts';
import type { StageTimer } from '../../index-repo/stage-timer.ts';

export type PublishInput = {
  outline: Outline;
  bundle: Bundle;
  /** Whether the publisher may see the private packages of `author` (for a private package's dependencies). */
  mayReadPrivate: (author: string) => boolean;
  /** Where the publish's time goes, by stage, when asked for. */
  timer?: StageTimer | null;
};

export type Published = { name: string; version: string; sha256: string; commit: string };

/** The entry a new version gets in `index.json`. */
function entryFor(outline: Outline, bundle: Bundle, published: string): VersionEntry {
  const dependencies: Record<string, string> = {};
  for (const [name, range] of Object.entries(outline.dependencies)) dependencies[name] = range.text;
  return {
    version: outline.version,
    'gren-version': outline.grenVersion.text,
    platform: outline.platform,
    dependencies,
    sha256: bundle.sha256,
    size: bundle.size,
    published,
    revoked: null,
  };
}

/** A version's `gren.json` as stored: the outline as published, indented by four spaces. */
export function outlineFile(raw: Record<string, unknown>): Buffer {
  return Buffer.from(JSON.stringify(raw, null, 4) + '\n');
}

/** What a version stores: its `gren.json` on `main`, its bundle and source tree on its content refs. */
export type VersionContent = { name: string; version: string; outline: Record<string, unknown>; bytes: Uint8Array; sources: Record<string, string>; published: string };

/**
 * The changes of one version, but for its package's `index.json`: on `main`, its gren.json; on
 * the package's content refs, the bundle (served at `<version>/bundle.pkg.gz`) and the source
 * tree, as the tag `git clone --branch <version>` checks out.
 */
export function versionChanges(content: VersionContent): { changes: FileChange[]; refs: RefChange[] } {
  const paths = packagePaths(content.name);
  const gren = outlineFile(content.outline);
  const tree = { files: sourceTree(gren, content.sources), message: `${content.name} ${content.version}\n`, time: new Date(content.published) };
  return {
    changes: [{ path: paths.outline(content.version), content: gren }],
    refs: [
      { ref: paths.bundleRef(content.version), blob: content.bytes },
      { ref: paths.tagRef(content.version), commit: tree },
    ],
  };
}

/** The changes of one publish: the version's (see `versionChanges`), then index.json, which lists it, last. */
function publishChanges(outline: Outline, bundle: Bundle, next: VersionIndex, entry: VersionEntry): { changes: FileChange[]; refs: RefChange[] } {
  const version = versionChanges({ name: outline.name, version: outline.version, outline: outline.raw, bytes: bundle.bytes, sources: bundle.sources, published: entry.published });
  return { changes: [...version.changes, { path: packagePaths(outline.name).index, content: encodeIndex(next) }], refs: version.refs };
}

/** Which repository the package lives in; refuses a version whose `private` differs from the package's. */
function visibility(ctx: PackagesContext, outline: Outline): boolean {
  const existing = ctx.catalog.get(outline.name);
  if (!existing) return outline.private;
  if (existing.name !== outline.name) throw fail('name_mismatch', `This package is registered as ${existing.name}; publish it under that name.`);
  if (existing.private !== outline.private) {
    throw fail(
      'visibility_mismatch',
      existing.private
        ? `${outline.name} is a private package: its versions must say "private": true.`
        : `${outline.name} is a public package: its versions cannot say "private": true.`,
    );
  }
  return existing.private;
}

/**
 * Publishes one version: under the package's lock, decides the repository, then in that
 * repository's serialised commit path re-checks the version against `main` and the
 * dependencies, and commits gren.json and index.json as one commit, with the content refs of
 * the version (source tree and bundle) written before it.
 */
export async function publishVersion(ctx: PackagesContext, input: PublishInput): Promise<Published> {
  const { outline, bundle } = input;
  const timer = input.timer ?? null;
  return ctx.lock(outline.name.toLowerCase(), async () => {
    timer?.mark('package_locked');
    const isPrivate = visibility(ctx, outline);
    const repo = isPrivate ? ctx.privateIndex : ctx.index;
    let done: { commit: string | null; result: VersionIndex; timings?: Record<string, number>; batchSize?: number };
    try {
      done = await repo.update(async (current: Snapshot) => {
        const index = await indexAt(ctx.catalog.get(outline.name), current, outline.name);
        const existing = findVersion(index, outline.version);
        if (existing) {
          throw fail('version_exists', `${outline.name} ${outline.version} is registered already${existing.revoked ? ' (revoked)' : ''}; publish a new version number.`);
        }
        const stateOf = (privateDependency: boolean) => (privateDependency === isPrivate ? current : (privateDependency ? ctx.privateIndex : ctx.index).snapshot());
        await checkDependencies(outline, { catalog: ctx.catalog, isPrivate, mayReadPrivate: input.mayReadPrivate, stateOf });
        const entry = entryFor(outline, bundle, ctx.clock.now().toISOString());
        const next = withVersion(index, outline.name, entry);
        return { message: `Publish ${outline.name} ${outline.version}`, ...publishChanges(outline, bundle, next, entry), result: next };
      });
    } catch (err) {
      if (!(err instanceof ApiError)) await settleUnknown(ctx, repo, outline.name, isPrivate);
      throw err;
    }
    if (done.commit === null) throw new Error(`publishing ${outline.name} ${outline.version} made no commit`);
    timer?.mark('commit');
    if (timer && done.timings) timer.split('commit', done.timings);
    if (timer && done.batchSize !== undefined) timer.note('batch', done.batchSize);
    if (!isPrivate) notifyCommitted(ctx.notifier, ctx.log, { event: 'publish', package: outline.name, version: outline.version }, done.commit);
    timer?.mark('notification_recorded');
    const previous = ctx.catalog.get(outline.name);
    const summary = previous && summaryVersion(done.result) !== outline.version ? previous.summary : outline.summary;
    ctx.catalog.set({ name: outline.name, private: isPrivate, index: done.result, summary, indexOid: await indexOidAt(repo.snapshot(), outline.name) });
    timer?.mark('catalog_updated');
    ctx.log.info('package_published', { package: outline.name, version: outline.version, private: isPrivate, commit: done.commit, size: bundle.size });
    return { name: outline.name, version: outline.version, sha256: bundle.sha256, commit: done.commit };
  });
}
