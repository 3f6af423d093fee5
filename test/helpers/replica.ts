import fs from 'node:fs/promises';
import path from 'node:path';
import { loadReplicaConfig } from '../../gateway/config.ts';
import { memoryLogger } from '../../gateway/log.ts';
import { openReplica, type Replica, type ReplicaOverrides } from '../../gateway/replica/replica.ts';
import { blobId } from '../../index-repo/git-object.ts';
import { tempDir } from './registry.ts';

export type TestReplica = { replica: Replica; url: string; dataDir: string; log: ReturnType<typeof memoryLogger>; close(): Promise<void> };

/** A read replica in this process on a free port over a temporary folder (or `dataDir`), with `env` as its environment. */
export async function startReplica(env: Record<string, string>, options: { dataDir?: string; overrides?: ReplicaOverrides } = {}): Promise<TestReplica> {
  const dataDir = options.dataDir ?? tempDir('gren-replica-');
  const log = memoryLogger();
  const config = loadReplicaConfig({ REPLICA_DATA: dataDir, PORT: '0', ...env });
  const replica = await openReplica(config, { log, ...options.overrides });
  const { url } = await replica.listen();
  return { replica, url, dataDir, log, close: () => replica.close() };
}

/** Waits until `check` answers true, polling every 20 ms; answers the milliseconds it took. */
export async function until(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 10_000): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return Date.now() - started;
}

/**
 * Every file a static file server finds below `dir`, following symbolic links as it does, with its
 * Git blob id; and every link that leads nowhere.
 */
export async function servedFiles(dir: string): Promise<{ files: Map<string, string>; broken: string[] }> {
  const files = new Map<string, string>();
  const broken: string[] = [];
  const walk = async (folder: string, relative: string): Promise<void> => {
    for (const name of (await fs.readdir(folder)).sort()) {
      const full = path.join(folder, name);
      const file = relative === '' ? name : `${relative}/${name}`;
      const stat = await fs.stat(full).catch(() => null);
      if (stat === null) broken.push(file);
      else if (stat.isDirectory()) await walk(full, file);
      else files.set(file, blobId(await fs.readFile(full)));
    }
  };
  await walk(dir, '');
  return { files, broken };
}
