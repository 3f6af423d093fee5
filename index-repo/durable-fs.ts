import fs from 'node:fs/promises';
import path from 'node:path';
import crypto from 'node:crypto';

/** A temporary name beside `file`, so that a rename onto `file` stays within one folder. */
export function tempPathFor(file: string): string {
  return path.join(path.dirname(file), `.tmp-${path.basename(file)}-${crypto.randomBytes(6).toString('hex')}`);
}

/**
 * Writes `file` so that a reader or a crash sees either the old content or the new, never a
 * part: the bytes go to a temporary file beside it, are flushed to disk when `sync`, and the
 * temporary file is renamed over `file`. The folder itself is not synced: see `syncDir`.
 */
export async function replaceFile(file: string, data: Uint8Array | string, sync: boolean): Promise<void> {
  const temp = tempPathFor(file);
  const handle = await fs.open(temp, 'wx', 0o644);
  try {
    await handle.writeFile(data);
    if (sync) await handle.datasync();
  } catch (err) {
    await handle.close();
    await fs.rm(temp, { force: true });
    throw err;
  }
  await handle.close();
  try {
    await fs.rename(temp, file);
  } catch (err) {
    await fs.rm(temp, { force: true });
    throw err;
  }
}

/** Writes `data` to a new temporary file beside `file` and flushes it; returns the temporary's path, to rename. */
export async function writeFlushed(file: string, data: Uint8Array): Promise<string> {
  const temp = tempPathFor(file);
  const handle = await fs.open(temp, 'wx', 0o444);
  try {
    await handle.writeFile(data);
    await handle.datasync();
  } catch (err) {
    await handle.close();
    await fs.rm(temp, { force: true });
    throw err;
  }
  await handle.close();
  return temp;
}

/** Writes `data` to a new temporary file beside `file`, unflushed; returns the temporary's path, to rename. */
export async function writeTemp(file: string, data: Uint8Array): Promise<string> {
  const temp = tempPathFor(file);
  await fs.writeFile(temp, data, { flag: 'wx', mode: 0o644 });
  return temp;
}

/** Flushes a folder's entries (names created, renamed or removed) to disk. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Removes the temporary files `replaceFile` may have left in a folder when a process died. */
export async function removeStaleTemps(dir: string): Promise<number> {
  let removed = 0;
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    if (name.startsWith('.tmp-')) {
      await fs.rm(path.join(dir, name), { force: true });
      removed++;
    }
  }
  return removed;
}
