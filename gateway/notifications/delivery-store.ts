import { DatabaseSync } from 'node:sqlite';

/** What happened in the public index, as the webhooks tell it (without the commit until it exists). */
export type NotificationEvent = { event: 'publish' | 'revoke'; package: string; version: string };

/** Where one delivery goes: the documentation site's import route, or a webhook. */
export type TargetKind = 'site' | 'webhook';
export type Target = { kind: TargetKind; url: string };

/** One delivery owed to one target. */
export type Delivery = NotificationEvent & {
  id: number;
  target: TargetKind;
  url: string;
  commit: string;
  attempts: number;
};

/** An event recorded before its commit by an earlier version of the registry, not yet known to be committed. */
export type Intent = NotificationEvent & { id: number };

/**
 * The owed deliveries, and every event ever recorded, in SQLite. Each write is one transaction
 * (WAL, synchronous=NORMAL): it survives the process being killed; a power cut may lose the
 * last ones, which the next start finds again in the index's history (`notifier.recover`), so
 * nothing on the publish path waits for a flush.
 */
export class DeliveryStore {
  private readonly db: DatabaseSync;

  constructor(file: string) {
    this.db = new DatabaseSync(file);
    this.db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = NORMAL;
      PRAGMA busy_timeout = 5000;
      CREATE TABLE IF NOT EXISTS intents (
        id INTEGER PRIMARY KEY,
        event TEXT NOT NULL,
        package TEXT NOT NULL,
        version TEXT NOT NULL,
        created TEXT NOT NULL
      );
      CREATE TABLE IF NOT EXISTS deliveries (
        id INTEGER PRIMARY KEY,
        target TEXT NOT NULL,
        url TEXT NOT NULL,
        event TEXT NOT NULL,
        package TEXT NOT NULL,
        version TEXT NOT NULL,
        commit_id TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at INTEGER NOT NULL,
        created TEXT NOT NULL,
        last_error TEXT
      );
      CREATE INDEX IF NOT EXISTS deliveries_next_at ON deliveries (next_at);
      CREATE TABLE IF NOT EXISTS events (
        event TEXT NOT NULL,
        package TEXT NOT NULL,
        version TEXT NOT NULL,
        commit_id TEXT NOT NULL,
        PRIMARY KEY (event, package, version)
      );
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    `);
  }

  /**
   * Records a committed event and one delivery of it per target, due at `now`, in one
   * transaction; an event recorded already is left as it is. Answers whether it was new.
   */
  record(event: NotificationEvent, commit: string, targets: Target[], now: number, created: string): boolean {
    let added = false;
    this.transaction(() => {
      const inserted = this.db.prepare('INSERT OR IGNORE INTO events (event, package, version, commit_id) VALUES (?, ?, ?, ?)').run(event.event, event.package, event.version, commit);
      if (inserted.changes === 0) return;
      added = true;
      const insert = this.db.prepare(
        'INSERT INTO deliveries (target, url, event, package, version, commit_id, next_at, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      );
      for (const target of targets) insert.run(target.kind, target.url, event.event, event.package, event.version, commit, now, created);
    });
    return added;
  }

  /** Whether an event was recorded. */
  known(event: NotificationEvent): boolean {
    return this.db.prepare('SELECT 1 FROM events WHERE event = ? AND package = ? AND version = ?').get(event.event, event.package, event.version) !== undefined;
  }

  /** A value kept beside the deliveries (the commit history is read back to), or null. */
  meta(key: string): string | null {
    return (this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value ?? null;
  }

  setMeta(key: string, value: string): void {
    this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  dropIntent(id: number): void {
    this.db.prepare('DELETE FROM intents WHERE id = ?').run(id);
  }

  intents(): Intent[] {
    return this.db.prepare('SELECT id, event, package, version FROM intents ORDER BY id').all() as Intent[];
  }

  /** Deliveries due at `now`, oldest first, at most `limit`, leaving out those in `busy`. */
  due(now: number, limit: number, busy: Set<number>): Delivery[] {
    const rows = this.db
      .prepare(
        `SELECT id, target, url, event, package, version, commit_id AS "commit", attempts
         FROM deliveries WHERE next_at <= ? ORDER BY next_at, id LIMIT ?`,
      )
      .all(now, limit + busy.size) as Delivery[];
    return rows.filter((row) => !busy.has(row.id)).slice(0, limit);
  }

  /** When the next delivery is due (ms since the epoch), or null when nothing is owed. */
  nextDue(busy: Set<number>): number | null {
    const rows = this.db.prepare('SELECT id, next_at FROM deliveries ORDER BY next_at LIMIT ?').all(busy.size + 1) as Array<{ id: number; next_at: number }>;
    return rows.find((row) => !busy.has(row.id))?.next_at ?? null;
  }

  delivered(id: number): void {
    this.db.prepare('DELETE FROM deliveries WHERE id = ?').run(id);
  }

  failed(id: number, nextAt: number, error: string): void {
    this.db.prepare('UPDATE deliveries SET attempts = attempts + 1, next_at = ?, last_error = ? WHERE id = ?').run(nextAt, error, id);
  }

  /** How many deliveries are owed. */
  owed(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM deliveries').get() as { n: number }).n;
  }

  /** How many deliveries are owed, and when the oldest of them was recorded (its `created`, an ISO time), or null. */
  backlog(): { owed: number; oldest: string | null } {
    const row = this.db.prepare('SELECT count(*) AS owed, min(created) AS oldest FROM deliveries').get() as { owed: number; oldest: string | null };
    return { owed: row.owed, oldest: row.oldest };
  }

  close(): void {
    this.db.close();
  }

  private transaction(work: () => void): void {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      work();
      this.db.exec('COMMIT');
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    }
  }
}
