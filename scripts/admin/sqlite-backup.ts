import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { backup, DatabaseSync } from 'node:sqlite';

/**
 * Every page in one backup step: SQLite restarts a step-by-step backup whenever another
 * connection writes, so a busy registry could keep a slow backup from ever finishing. One
 * step holds a read transaction, which in WAL mode never blocks the registry's writes, and
 * copies the database as of one moment.
 */
const allPages = 2_147_483_647;

export type BackupResult = { file: string; pages: number; bytes: number };

/**
 * Copies the SQLite database `source` to `dest` with SQLite's online backup, safe while the
 * registry writes to it. The copy is written beside `dest` with mode 0600, checked with
 * `PRAGMA integrity_check`, switched out of WAL mode so that it is one self-contained
 * file, then renamed over `dest`.
 */
export async function backupDatabase(source: string, dest: string): Promise<BackupResult> {
  if (!fs.existsSync(source)) throw new Error(`${source} does not exist.`);
  const temporary = path.join(path.dirname(dest), `.${path.basename(dest)}.${crypto.randomBytes(4).toString('hex')}.tmp`);
  fs.writeFileSync(temporary, '', { mode: 0o600, flag: 'wx' });
  const db = new DatabaseSync(source, { readOnly: true, timeout: 10_000 });
  try {
    const pages = await backup(db, temporary, { rate: allPages });
    settle(temporary);
    fs.renameSync(temporary, dest);
    return { file: dest, pages, bytes: fs.statSync(dest).size };
  } catch (err) {
    fs.rmSync(temporary, { force: true });
    throw err;
  } finally {
    db.close();
  }
}

/** Checks the copy and leaves it as one file in rollback-journal mode, synced to disk. */
function settle(file: string): void {
  const copy = new DatabaseSync(file);
  try {
    const check = copy.prepare('PRAGMA integrity_check').all() as Array<{ integrity_check: string }>;
    if (check.length !== 1 || check[0]?.integrity_check !== 'ok') {
      throw new Error(`The copy ${file} failed its integrity check: ${check.map((row) => row.integrity_check).join('; ')}`);
    }
    copy.exec('PRAGMA journal_mode = DELETE');
  } finally {
    copy.close();
  }
  const fd = fs.openSync(file, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
