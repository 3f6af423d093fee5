import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { bundle } from './helpers/bundle.ts';
import { publisher, published, putBundle } from './helpers/fixtures.ts';
import { call, expectError, expectJson, startRegistryWithMail } from './helpers/accounts.ts';
import { tempDir } from './helpers/registry.ts';

/** Mounts a tmpfs of `megabytes` at a new folder, or answers why it cannot (mounting needs root). */
function mountSmallDisk(megabytes: number): { dir: string; unmount(): void } | string {
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root';
  const dir = tempDir('gren-full-disk-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${megabytes}m`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    return `mount refused: ${(err as Error).message.split('\n')[0]}`;
  }
  return { dir, unmount: () => execFileSync('umount', ['-l', dir]) };
}

/** Fills a file system until it refuses a byte more; returns the filler file, to remove. */
function fill(dir: string): string {
  const file = path.join(dir, 'filler');
  const fd = fs.openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  }
  for (const size of [4096, 512, 1]) {
    try {
      for (;;) fs.writeSync(fd, chunk, 0, size);
    } catch {
      // Full at this size: try smaller.
    }
  }
  fs.closeSync(fd);
  return file;
}

/** Every temporary or lock file a failed change might leave in the data folder. */
function leftovers(dataDir: string): string[] {
  return fs
    .readdirSync(dataDir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && (/^\.tmp-/.test(entry.name) || entry.name.endsWith('.lock') || entry.name.endsWith('.keep')) && entry.name !== 'registry.lock')
    .map((entry) => path.relative(dataDir, path.join(entry.parentPath, entry.name)));
}

const disk = mountSmallDisk(160);
const title = 'on a full disk, publishing and writing accounts answer 507 and leave nothing behind, reads go on, and freed space is used at once';

(typeof disk === 'string' ? test.skip : test)(typeof disk === 'string' ? `${title} (skipped: ${disk})` : title, async (t) => {
  if (typeof disk === 'string') return;
  t.teardown(() => disk.unmount());
  const dataDir = path.join(disk.dir, 'data');
  const reg = await startRegistryWithMail({ dataDir });
  t.teardown(() => reg.close());
  const token = await publisher(reg, 'robin@example.com', ['acme']);
  await published(reg.url, token, 'acme/lib', '1.0.0', bundle({ name: 'acme/lib', version: '1.0.0', padding: 20_000 }));
  const staging = path.join(dataDir, 'index.staging');
  const packs = fs.readdirSync(path.join(dataDir, 'index.git', 'objects', 'pack')).sort();

  const filler = fill(disk.dir);
  const refused = await putBundle(reg.url, token, 'acme/lib', '1.1.0', bundle({ name: 'acme/lib', version: '1.1.0', padding: 20_000 }));
  await expectError(refused, 507, 'insufficient_storage', t);
  t.truthy(refused.headers.get('retry-after'));
  t.deepEqual(leftovers(dataDir), [], 'no temporary or lock file of the failed publish');
  t.deepEqual(fs.readdirSync(staging), [], 'nothing staged');
  t.deepEqual(fs.readdirSync(path.join(dataDir, 'index.git', 'objects', 'pack')).sort(), packs, 'no pack of the failed publish');
  t.true(reg.log.lines.some((line) => line.event === 'disk_full'));
  t.false(reg.log.lines.some((line) => line.event === 'request_failed'), 'no 500');

  // Reads go on, with the token too.
  t.deepEqual((await expectJson(await fetch(`${reg.url}/index/packages/acme/lib/index.json`), 200)).versions.length, 1);
  t.is((await fetch(`${reg.url}/index/packages/acme/lib/1.0.0/bundle.pkg.gz`)).status, 200);
  await expectJson(await call(reg.url, 'GET', '/packages/acme/lib/latest'), 200);
  await expectJson(await call(reg.url, 'GET', '/session', { token }), 200);

  // Accounts: token creation refused with 507 once SQLite cannot grow its files, never a 500.
  const statuses = new Set<number>();
  for (let i = 0; i < 300 && !statuses.has(507); i++) {
    const res = await call(reg.url, 'POST', '/tokens', { token, body: { name: `ci-${i}`, identity: 'acme', role: 'publish' } });
    statuses.add(res.status);
    if (res.status === 507) await expectError(res, 507, 'insufficient_storage', t);
  }
  t.true(statuses.has(507), `token creation refused on the full disk (${[...statuses].join(', ')})`);
  t.false(statuses.has(500));

  // Space back: the next publish works, without a restart.
  fs.rmSync(filler);
  await published(reg.url, token, 'acme/lib', '1.1.0', bundle({ name: 'acme/lib', version: '1.1.0', padding: 20_000 }));
  t.deepEqual((await expectJson(await fetch(`${reg.url}/index/packages/acme/lib/index.json`), 200)).versions.length, 2);
});
