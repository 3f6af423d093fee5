import fs from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { unlessDiskFull } from '../disk-full.ts';
import { migrations } from './migrations.ts';

/**
 * Opens the accounts database: WAL (readers never wait for the writer, and a second
 * process such as an ops script may open it while the registry runs), full sync (a
 * confirmed login survives a power cut), foreign keys on, then every migration not yet
 * applied, each in its own transaction, numbered by `PRAGMA user_version`.
 */
export function openDatabase(file: string): DatabaseSync {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const db = new DatabaseSync(file, { timeout: 5000, enableForeignKeyConstraints: true });
  try {
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('PRAGMA synchronous = FULL');
    migrate(db);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function migrate(db: DatabaseSync): void {
  for (let version = currentVersion(db); version < migrations.length; version = currentVersion(db)) {
    transaction(db, () => {
      // Another process may have migrated while this one waited for the write lock.
      const now = currentVersion(db);
      if (now !== version) return;
      db.exec(migrations[version] as string);
      db.exec(`PRAGMA user_version = ${version + 1}`);
    });
  }
  if (currentVersion(db) > migrations.length) {
    throw new Error(`The accounts database is at schema version ${currentVersion(db)}, newer than this registry knows (${migrations.length}).`);
  }
}

function currentVersion(db: DatabaseSync): number {
  const row = db.prepare('PRAGMA user_version').get() as { user_version: number };
  return row.user_version;
}

/** Runs `work` in one write transaction (taken at once, so no other writer slips in between its reads and writes). */
export function transaction<T>(db: DatabaseSync, work: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = work();
    db.exec('COMMIT');
    return result;
  } catch (err) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw err;
  }
}

/**
 * Records when a secret was last used (a session's or a token's use, at most once a minute each)
 * as a transaction SQLite does not flush on its own: it survives the process being killed, the
 * next flushed transaction or checkpoint flushes it, and a power cut before then may lose it, so
 * that a use shows as the one before it, and an idle session ends no later than it would have.
 * A flush here held the event loop for a disk round trip on the first request of every user in a
 * minute (0.5 ms under load, the largest part of a publish's growth with thousands of authors).
 * On a full disk the record stays as it was and the request goes on.
 */
export function recordUse(db: DatabaseSync, write: () => void): void {
  db.exec('PRAGMA synchronous = NORMAL');
  try {
    unlessDiskFull(write);
  } finally {
    db.exec('PRAGMA synchronous = FULL');
  }
}
