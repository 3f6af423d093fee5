import fs from 'node:fs';
import type { MirrorStatus } from '../../index-repo/push-mirrors.ts';
import type { TestRegistry } from './registry.ts';
import { gitCmd } from './git.ts';

/** Creates an empty bare repository at `gitDir`, as an operator creates a mirror. */
export async function bareRepo(gitDir: string): Promise<string> {
  await gitCmd(['init', '--quiet', '--bare', gitDir]);
  return gitDir;
}

/** `main` and the content refs of a repository, as `git for-each-ref` lists them: one `<oid> <ref>` line each. */
export async function registryRefs(gitDir: string): Promise<string> {
  const out = await gitCmd(['--git-dir', gitDir, 'for-each-ref', '--format=%(objectname) %(refname)', 'refs/heads/main', 'refs/namespaces/']);
  return out.trim();
}

/**
 * Waits until `git for-each-ref` shows the mirror holding exactly the registry's refs; answers
 * how long it took, in ms. Fails after `timeoutMs`, showing both sides.
 */
export async function mirrorEqual(registryGitDir: string, mirrorGitDir: string, timeoutMs = 30_000): Promise<number> {
  const started = performance.now();
  for (;;) {
    const [ours, theirs] = await Promise.all([registryRefs(registryGitDir), registryRefs(mirrorGitDir).catch((err: Error) => err.message)]);
    if (ours === theirs && ours !== '') return performance.now() - started;
    if (performance.now() - started > timeoutMs) throw new Error(`The mirror did not catch up within ${timeoutMs} ms.\nregistry:\n${ours}\nmirror:\n${theirs}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The state of the registry's `index`th mirror. */
export function mirrorStatus(reg: Pick<TestRegistry, 'registry'>, index = 0): MirrorStatus {
  const status = reg.registry.deps.mirrors.status()[index];
  if (!status) throw new Error(`No mirror number ${index}`);
  return status;
}

/** Waits until `check` answers something other than null (15 s at most); answers it. `what` names it in the failure. */
export async function eventually<T>(check: () => T | null, what: () => string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`Never came: ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Waits until the `index`th mirror's state satisfies `ok`; answers it. */
export function mirrorReaches(reg: Pick<TestRegistry, 'registry'>, ok: (status: MirrorStatus) => boolean, index = 0): Promise<MirrorStatus> {
  return eventually(
    () => {
      const status = mirrorStatus(reg, index);
      return ok(status) ? status : null;
    },
    () => `the expected mirror state; it is ${JSON.stringify(mirrorStatus(reg, index))}`,
  );
}

/** The command lines of this machine's processes that mention `text`. */
export function commandLinesWith(text: string): string[] {
  const found: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const line = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      if (line.includes(text)) found.push(line);
    } catch {
      // Ended meanwhile.
    }
  }
  return found;
}

/** Timings short enough for tests: a burst settles in 50 ms, retries from 100 ms up to 1 s. */
export const quickMirrors = { settleMs: 50, initialDelayMs: 100, maxDelayMs: 1000, closeWaitMs: 2000 };
