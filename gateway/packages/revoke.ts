import type { IndexRepo, Snapshot } from '../../index-repo/types.ts';
import { describeError } from '../log.ts';
import { ApiError, fail } from '../errors.ts';
import type { PackagesContext } from './packages.ts';
import { indexAt, indexOidAt, readSummary, summaryVersion } from './catalog.ts';
import { notifyCommitted, settleUnknown } from './notify.ts';
import { encodeIndex, findVersion, packagePaths, withRevoked, type VersionEntry, type VersionIndex } from './version-index.ts';

export type RevokeInput = { name: string; version: string; reason: string | null };

type Revoked = { index: VersionIndex; entry: VersionEntry };

/**
 * The plan of a revoke: record `revoked` in index.json (one commit of `main`, which keeps who
 * revoked what and why) and delete the version's content refs, its source tree and bundle;
 * nothing when revoked already.
 */
function revokePlan(ctx: PackagesContext, input: RevokeInput) {
  return async (current: Snapshot) => {
    const paths = packagePaths(input.name);
    const index = await indexAt(ctx.catalog.get(input.name), current, input.name);
    const entry = findVersion(index, input.version);
    if (!index || !entry) throw fail('not_found', `${input.name} has no version ${input.version}.`);
    if (entry.revoked) return { result: { index, entry } };
    const next = withRevoked(index, input.version, { at: ctx.clock.now().toISOString(), reason: input.reason });
    return {
      message: `Revoke ${input.name} ${input.version}`,
      changes: [{ path: paths.index, content: encodeIndex(next) }],
      refs: [
        { ref: paths.tagRef(input.version), delete: true as const },
        { ref: paths.bundleRef(input.version), delete: true as const },
      ],
      result: { index: next, entry: findVersion(next, input.version) as VersionEntry },
    };
  };
}

/**
 * Revokes one version: one commit that records the revocation in index.json, with the version's
 * content refs deleted; then the repository is purged, so that the content is in no file the
 * registry keeps or serves. The number stays taken and the metadata stays; revoking again changes
 * nothing but purges again, should an earlier purge have failed.
 */
export async function revokeVersion(ctx: PackagesContext, input: RevokeInput): Promise<VersionEntry> {
  const { entry, repo } = await ctx.lock(input.name.toLowerCase(), () => commitRevoke(ctx, input));
  try {
    await repo.purge();
  } catch (err) {
    ctx.log.error('revoke_purge_failed', { package: input.name, version: input.version, ...describeError(err) });
    throw fail('unavailable', `${input.name} ${input.version} is revoked, but its content could not be removed from disk yet; revoke it again to finish.`);
  }
  return entry;
}

async function commitRevoke(ctx: PackagesContext, input: RevokeInput): Promise<{ entry: VersionEntry; repo: IndexRepo }> {
  const record = ctx.catalog.get(input.name);
  if (!record || record.name !== input.name) throw fail('not_found', `There is no package ${input.name}.`);
  const repo = record.private ? ctx.privateIndex : ctx.index;
  let done: { commit: string | null; result: Revoked };
  try {
    done = await repo.update(revokePlan(ctx, input));
  } catch (err) {
    if (!(err instanceof ApiError)) await settleUnknown(ctx, repo, input.name, record.private);
    throw err;
  }
  if (done.commit === null) return { entry: done.result.entry, repo };
  if (!record.private) notifyCommitted(ctx.notifier, ctx.log, { event: 'revoke', package: input.name, version: input.version }, done.commit);
  const summary = summaryVersion(done.result.index) === summaryVersion(record.index) ? record.summary : await readSummary(repo.snapshot(), done.result.index).catch(() => record.summary);
  ctx.catalog.set({ ...record, index: done.result.index, summary, indexOid: await indexOidAt(repo.snapshot(), input.name) });
  ctx.log.info('package_revoked', { package: input.name, version: input.version, private: record.private, commit: done.commit });
  return { entry: done.result.entry, repo };
}
