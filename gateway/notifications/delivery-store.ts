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

/** An event recorded before its commit, not yet known to be committed. */
export type Intent = NotificationEvent & { id: number };

/**
 * The owed deliveries, in SQLite. Every write is one transaction, synced before it returns
 * (WAL, synchronous=FULL), so what is recorded survives the process being killed.
 */
export class DeliveryStore {
  private readonly db: DatabaseSync;

  constructor(file: string) {
    this.db = new DatabaseSync(file);
    this.db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = FULL;
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
    `);
  }

  addIntent(event: NotificationEvent, created: string): number {
    const row = this.db
      .prepare('INSERT INTO intents (event, package, version, created) VALUES (?, ?, ?, ?) RETURNING id')
      .get(event.event, event.package, event.version, created) as { id: number };
    return row.id;
  }

  dropIntent(id: number): void {
    this.db.prepare('DELETE FROM intents WHERE id = ?').run(id);
  }

  intents(): Intent[] {
    return this.db.prepare('SELECT id, event, package, version FROM intents ORDER BY id').all() as Intent[];
  }

  /** Turns an intent into one delivery per target, due at `now`, in one transaction. */
  commitIntent(id: number, commit: string, targets: Target[], now: number, created: string): void {
    this.transaction(() => {
      const intent = this.db.prepare('SELECT event, package, version FROM intents WHERE id = ?').get(id) as NotificationEvent | undefined;
      if (!intent) return;
      const insert = this.db.prepare(
        'INSERT INTO deliveries (target, url, event, package, version, commit_id, next_at, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      );
      for (const target of targets) insert.run(target.kind, target.url, intent.event, intent.package, intent.version, commit, now, created);
      this.db.prepare('DELETE FROM intents WHERE id = ?').run(id);
    });
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
