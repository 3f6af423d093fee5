import type { Snapshot } from '../../index-repo/types.ts';
import { ApiError, fail } from '../errors.ts';
import type { PackagesContext } from './packages.ts';
import { indexAt, indexOidAt, readSummary, summaryVersion } from './catalog.ts';
import { prepareNotification, settleUnknown } from './notify.ts';
import { encodeIndex, findVersion, packagePaths, withRevoked, type VersionEntry, type VersionIndex } from './version-index.ts';

export type RevokeInput = { name: string; version: string; reason: string | null };

type Revoked = { index: VersionIndex; entry: VersionEntry };

/** The plan of a revoke: delete the bundle, record `revoked` in index.json; nothing when revoked already. */
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
      changes: [
        { path: paths.bundle(input.version), delete: true as const },
        { path: paths.index, content: encodeIndex(next) },
      ],
      result: { index: next, entry: findVersion(next, input.version) as VersionEntry },
    };
  };
}

/**
 * Revokes one version: one commit that deletes its bundle and records the revocation in
 * index.json. The number stays taken and the metadata stays; revoking again changes nothing.
 */
export async function revokeVersion(ctx: PackagesContext, input: RevokeInput): Promise<VersionEntry> {
  return ctx.lock(input.name.toLowerCase(), async () => {
    const record = ctx.catalog.get(input.name);
    if (!record || record.name !== input.name) throw fail('not_found', `There is no package ${input.name}.`);
    const repo = record.private ? ctx.privateIndex : ctx.index;
    const notification = record.private ? null : prepareNotification(ctx.notifier, ctx.log, { event: 'revoke', package: input.name, version: input.version });
    let done: { commit: string | null; result: Revoked };
    try {
      done = await repo.update(revokePlan(ctx, input));
    } catch (err) {
      if (err instanceof ApiError) notification?.abandoned();
      else await settleUnknown(ctx, repo, input.name, record.private);
      throw err;
    }
    if (done.commit === null) {
      notification?.abandoned();
      return done.result.entry;
    }
    notification?.committed(done.commit);
    const summary = summaryVersion(done.result.index) === summaryVersion(record.index) ? record.summary : await readSummary(repo.snapshot(), done.result.index).catch(() => record.summary);
    ctx.catalog.set({ ...record, index: done.result.index, summary, indexOid: await indexOidAt(repo.snapshot(), input.name) });
    ctx.log.info('package_revoked', { package: input.name, version: input.version, private: record.private, commit: done.commit });
    return done.result.entry;
  });
}
