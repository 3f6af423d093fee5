import { execFileSync, spawnSync } from 'node:child_process';

/** Whether `tool` is on the PATH. */
export const installed = (tool: string): boolean => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

/** Installs from Debian (`apt-get update` once, then `apt-get install`) whichever of `tools` is missing. */
export function ensureTools(tools: string[]): void {
  const missing = tools.filter((tool) => !installed(tool));
  if (missing.length === 0) return;
  process.stdout.write(`installing ${missing.join(' and ')} from Debian...\n`);
  execFileSync('apt-get', ['update'], { stdio: 'ignore' });
  execFileSync('apt-get', ['install', '-y', ...missing], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}
