import fs from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
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
