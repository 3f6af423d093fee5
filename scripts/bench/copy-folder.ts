import { execFileSync } from 'node:child_process';

/**
 * Copies a folder (`cp -a`), then flushes every file system (`sync`), so that writing the copy
 * back to disk does not go on while the next measurement runs.
 */
export function copyFolder(from: string, to: string): void {
  execFileSync('cp', ['-a', from, to]);
  execFileSync('sync');
}
