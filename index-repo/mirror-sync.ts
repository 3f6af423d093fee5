import type { IndexRepo, Snapshot } from './types.ts';
import { describeFailure, runGit, type GitProcessResult } from './git-process.ts';
import { remoteInvocation, scrubRemote, type GitRemote } from './git-remote.ts';

/** The refs a mirror holds of the registry's: `main`, and the content refs. Other refs on a mirror are not the registry's. */
const MAIN = 'refs/heads/main';
const CONTENT = 'refs/namespaces/';
/** Refspecs per `git push`: each is about 130 bytes, and a command line holds about 2 MB. */
const CHUNK = 2000;
/**
 * Content refs to set beyond which one wildcard refspec replaces the explicit ones: Git matches
 * each explicit refspec against every local ref (about 6 ms each at 10,000 refs, so a first push
 * of 20,000 would take half an hour), a wildcard in one pass.
 */
const BULK = 50;

export type SyncLimits = {
  /** A `git push` is killed after this long, */
  pushTimeoutMs: number;
  /** or after this long without progress; */
  idleMs: number;
  /** a `git ls-remote` after this long. */
  listTimeoutMs: number;
};

export type SyncInput = {
  repo: IndexRepo;
  remote: GitRemote;
  /** Overwrite what differs on the mirror, and delete refs the registry never had. */
  force: boolean;
  /** Whether the registry ever had a content ref it has no longer (a revoked version's): its deletion is the registry's to make. */
  isRecorded(snapshot: Snapshot, ref: string): Promise<boolean>;
  limits: SyncLimits;
  signal: AbortSignal;
  /** The mirror's refs as the last sync left them, when known: saves listing them again. Null: list them. */
  known: ReadonlyMap<string, string> | null;
};

/** A ref the mirror holds that the registry did not overwrite or delete, and why. */
export type Divergence = { ref: string; reason: string };

export type SyncOutcome = {
  set: number;
  deleted: number;
  pushes: number;
  diverged: Divergence[];
  /** The mirror's refs now, when every push went through as planned (then they are the registry's); null otherwise. */
  holds: Map<string, string> | null;
};

/** A sync that could not finish (the mirror unreachable, a push refused by the host, killed): retried later. */
export class MirrorSyncError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MirrorSyncError';
  }
}

type Plan = { sets: Array<[string, string]>; main: string | null; deletes: string[]; diverged: Divergence[] };

/**
 * Brings one mirror up to date with the repository, as far as it will go without overwriting
 * anything the registry did not write: lists the mirror's refs, then pushes what differs, in
 * one atomic push (the mirror takes every change or none). A ref the mirror changed (`main`
 * with a commit of its own, a content ref with other bytes) is refused by Git as not a
 * fast-forward, a content ref the registry never had is left alone: both are answered as
 * divergences, and overwritten only with `force`. When the atomic push is refused, or the host
 * cannot push atomically, the changes go in three pushes that keep the registry's own order
 * (content refs, then `main`, then the deletions of revoked versions' refs), so that what can
 * go through does. Many content refs to set (a first push) go as one wildcard refspec, which
 * also takes content refs stored since the snapshot: content may only run ahead of `main`.
 * Running it again when nothing changed lists the refs and pushes nothing. With `known` (what
 * the last sync left), the listing is skipped: whatever changed on the mirror since is still
 * never overwritten (Git refuses it, and only refs the registry had are deleted), and is found
 * at the next listing.
 */
export async function syncMirror(input: SyncInput): Promise<SyncOutcome> {
  const snapshot = input.repo.snapshot();
  // Taken in one turn of the event loop: main and the content refs as stored together.
  const local = new Map([[MAIN, snapshot.commit], ...snapshot.refs()]);
  if (snapshot.commit === '') local.delete(MAIN);
  const remote = input.known ?? (await listRemote(input));
  const plan = await planSync(input, snapshot, local, remote);
  const outcome: SyncOutcome = { set: 0, deleted: 0, pushes: 0, diverged: plan.diverged, holds: null };
  const content = plan.sets.length > BULK ? [`${CONTENT}*:${CONTENT}*`] : plan.sets.map(([ref, oid]) => `${oid}:${ref}`);
  const steps = [content, plan.main ? [`${plan.main}:${MAIN}`] : [], plan.deletes.map((ref) => `:${ref}`)];
  const all = steps.flat();
  let done = all.length === 0;
  if (!done && all.length <= CHUNK) {
    const result = await push(input, all, true);
    outcome.pushes++;
    done = !result.blocked;
    if (done) add(outcome, result);
  }
  for (const refspecs of done ? [] : steps) {
    for (let start = 0; start < refspecs.length; start += CHUNK) {
      add(outcome, await push(input, refspecs.slice(start, start + CHUNK), false));
      outcome.pushes++;
    }
  }
  if (outcome.diverged.length === 0) outcome.holds = local;
  return outcome;
}

type PushResult = { set: number; deleted: number; diverged: Divergence[]; blocked: boolean };

function add(outcome: SyncOutcome, result: PushResult): void {
  outcome.set += result.set;
  outcome.deleted += result.deleted;
  outcome.diverged.push(...result.diverged);
}

async function planSync(input: SyncInput, snapshot: Snapshot, local: Map<string, string>, remote: ReadonlyMap<string, string>): Promise<Plan> {
  const plan: Plan = { sets: [], main: null, deletes: [], diverged: [] };
  for (const [ref, oid] of local) {
    if (remote.get(ref) === oid) continue;
    if (ref === MAIN) plan.main = oid;
    else plan.sets.push([ref, oid]);
  }
  for (const ref of remote.keys()) {
    if (local.has(ref) || ref === MAIN) continue;
    if (input.force || (await input.isRecorded(snapshot, ref))) plan.deletes.push(ref);
    else plan.diverged.push({ ref, reason: 'not a ref the registry ever had' });
  }
  return plan;
}

type Limits = { timeoutMs: number; idleMs?: number };

function git(input: SyncInput, args: string[], limits: Limits): Promise<GitProcessResult> {
  return runGit({ args: ['--git-dir', input.repo.gitDir, ...args], env: remoteInvocation(input.remote).env, ...limits, signal: input.signal });
}

function failure(input: SyncInput, command: string, result: GitProcessResult, limits: Limits): MirrorSyncError {
  // Git asks for a user name when the host answered 401: to a registry, that means the credentials are missing or wrong.
  const refused = /could not read (Username|Password)|Authentication failed/.test(result.stderr);
  const message = refused ? `git ${command} failed: the mirror refused the credentials (or the URL has none)` : describeFailure(command, result, limits);
  return new MirrorSyncError(scrubRemote(message, input.remote));
}

/** The mirror's refs of the registry's kinds, by name. */
async function listRemote(input: SyncInput): Promise<Map<string, string>> {
  const { url } = remoteInvocation(input.remote);
  const limits = { timeoutMs: input.limits.listTimeoutMs };
  const result = await git(input, ['ls-remote', url, MAIN, `${CONTENT}*`], limits);
  if (result.code !== 0) throw failure(input, 'ls-remote', result, limits);
  const refs = new Map<string, string>();
  for (const line of result.stdout.split('\n')) {
    const [oid, ref] = line.split('\t');
    if (oid && ref && (ref === MAIN || ref.startsWith(CONTENT))) refs.set(ref, oid);
  }
  return refs;
}

/**
 * One `git push` of explicit refspecs (`<oid>:<ref>`, `:<ref>`). Refs Git refuses as not
 * fast-forwards are divergences; not atomic, the others go through; atomic, nothing does, and
 * the push is `blocked` (so is an atomic push to a host that cannot make one). A refusal by the
 * host (a hook, a protected branch, no right to push) or no answer at all is a failure.
 */
async function push(input: SyncInput, refspecs: string[], atomic: boolean): Promise<PushResult> {
  const { url } = remoteInvocation(input.remote);
  const args = ['push', '--porcelain', '--progress', ...(atomic ? ['--atomic'] : []), ...(input.force ? ['--force'] : []), url, ...refspecs];
  const limits = { timeoutMs: input.limits.pushTimeoutMs, idleMs: input.limits.idleMs };
  const result = await git(input, args, limits);
  const counts: PushResult = { set: 0, deleted: 0, diverged: [], blocked: atomic && /does not support --atomic/.test(result.stderr) };
  const refused: string[] = [];
  let done = false;
  for (const line of result.stdout.split('\n')) {
    if (line === 'Done') done = true;
    const [flag, spec, summary = ''] = line.split('\t');
    if (spec === undefined || flag === undefined || flag.length !== 1) continue;
    const ref = spec.slice(spec.indexOf(':') + 1);
    const reason = summary.replace(/^\[[a-z ]+\]\s*/, '').replace(/^\((.*)\)$/, '$1');
    if (flag === '-') counts.deleted++;
    else if (' +*'.includes(flag)) counts.set++;
    else if (flag === '!' && summary.startsWith('[rejected]')) {
      if (atomic) counts.blocked = true;
      else counts.diverged.push({ ref, reason });
    } else if (flag === '!') refused.push(`${ref}: ${reason}`);
  }
  if (refused.length > 0) throw new MirrorSyncError(scrubRemote(`the mirror refused ${refused.length} ref(s): ${refused.slice(0, 3).join('; ')}`, input.remote));
  if (result.code !== 0 && !counts.blocked && !(done && counts.diverged.length > 0)) throw failure(input, 'push', result, limits);
  return counts;
}
