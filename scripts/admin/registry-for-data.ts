import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../gateway/config.ts';
import type { Logger } from '../../gateway/log.ts';
import { dataPaths, openRegistry } from '../../gateway/registry.ts';
import { lockOwner } from '../../index-repo/process-lock.ts';

/** The pid of the live registry process holding the data folder's index lock, or null. */
export function runningRegistryPid(dataDir: string): number | null {
  return lockOwner(dataPaths(dataDir).publicGit);
}

/**
 * The public URL the data folder's index announces in config.json, so that a registry started
 * here for a moment keeps it (a different REGISTRY_URL would commit a new config.json).
 */
function announcedUrl(dataDir: string): string | null {
  try {
    const config = JSON.parse(fs.readFileSync(path.join(dataPaths(dataDir).publicServed, 'config.json'), 'utf8')) as { api?: unknown };
    return typeof config.api === 'string' ? config.api : null;
  } catch {
    return null;
  }
}

export class RegistryBusyError extends Error {
  constructor(dataDir: string, pid: number) {
    super(`A registry (pid ${pid}) is running on ${dataDir}: give its address with --registry URL, so that everything goes through it.`);
    this.name = 'RegistryBusyError';
  }
}

export type RegistryEndpoint = { url: string; inProcess: boolean; close(): Promise<void> };

/**
 * The registry to publish through: the running one at `registryUrl` when given; else, when no
 * registry runs on the data folder, one started in this process on a free local port, with the
 * environment's settings (webhooks, documentation site), the URL the index already announces,
 * and no publish limit (only the import publishes through it).
 */
export async function registryForData(options: {
  dataDir: string;
  registryUrl: string | null;
  env: Record<string, string | undefined>;
  log: Logger;
}): Promise<RegistryEndpoint> {
  const { dataDir, registryUrl, env } = options;
  if (registryUrl !== null) return { url: registryUrl, inProcess: false, close: async () => {} };
  const pid = runningRegistryPid(dataDir);
  if (pid !== null) throw new RegistryBusyError(dataDir, pid);
  const publicUrl = env['REGISTRY_URL']?.trim() || announcedUrl(dataDir) || 'http://localhost:3000';
  // Only this run publishes through it, as the operator: no publish limit.
  const config = { ...loadConfig({ ...env, REGISTRY_DATA: dataDir, PORT: '0', HOST: '127.0.0.1', REGISTRY_URL: publicUrl }), publishLimit: null };
  const registry = await openRegistry(config, { log: options.log });
  try {
    const { url } = await registry.listen();
    return { url, inProcess: true, close: () => registry.close() };
  } catch (err) {
    await registry.close();
    throw err;
  }
}
