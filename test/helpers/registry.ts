import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { loadConfig } from '../../gateway/config.ts';
import { memoryLogger } from '../../gateway/log.ts';
import { openRegistry, type Registry, type RegistryOverrides } from '../../gateway/registry.ts';

/** The temporary folders this test process made: removed when it exits, whatever the tests did. */
const made: string[] = [];
function removeMade(): void {
  for (const dir of made.splice(0)) {
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // A folder a test left mounted, or busy: the system's own clean-up takes it.
    }
  }
}
process.once('exit', removeMade);
// The test runner stops a worker that lingers with a signal: its folders go too.
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    removeMade();
    process.exit(128 + (signal === 'SIGTERM' ? 15 : 2));
  });
}

/** A fresh temporary folder, removed when the test process exits. */
export function tempDir(prefix = 'gren-registry-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** A port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export type TestRegistry = {
  registry: Registry;
  /** Base URL, such as http://127.0.0.1:41234 (also the REGISTRY_URL). */
  url: string;
  dataDir: string;
  log: ReturnType<typeof memoryLogger>;
  close(): Promise<void>;
};

/**
 * Starts a real registry on a free port over a temporary data folder (or `dataDir`),
 * with `env` added to its environment. Close it with `close()` (t.teardown).
 */
export async function startRegistry(options: { env?: Record<string, string>; dataDir?: string; overrides?: RegistryOverrides } = {}): Promise<TestRegistry> {
  const dataDir = options.dataDir ?? tempDir();
  // The port was free a moment ago; another test process may have taken it since: try another.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const config = loadConfig({ REGISTRY_DATA: dataDir, PORT: String(port), REGISTRY_URL: url, ...options.env });
    const log = memoryLogger();
    const registry = await openRegistry(config, { log, ...options.overrides });
    try {
      await registry.listen();
    } catch (err) {
      await registry.close();
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE' && attempt < 5) continue;
      throw err;
    }
    return { registry, url, dataDir, log, close: () => registry.close() };
  }
}
