/** SQLite's result code for a write refused because the disk (or the database's size limit) is full. */
const SQLITE_FULL = 13;

/**
 * Whether an error (or one it was caused by) says the disk is full: a file system's `ENOSPC` or
 * `EDQUOT`, or SQLite's "database or disk is full".
 */
export function isDiskFull(err: unknown): boolean {
  for (let at: unknown = err, depth = 0; at !== null && typeof at === 'object' && depth < 5; at = (at as { cause?: unknown }).cause, depth++) {
    const { code, errcode } = at as { code?: unknown; errcode?: unknown };
    if (code === 'ENOSPC' || code === 'EDQUOT') return true;
    if (typeof errcode === 'number' && (errcode & 0xff) === SQLITE_FULL) return true;
  }
  return false;
}

/**
 * Runs a write that only keeps a record up to date (when a token was last used, say): on a full
 * disk it is skipped, so that what the request is for (a read, say) still happens.
 */
export function unlessDiskFull(write: () => void): void {
  try {
    write();
  } catch (err) {
    if (!isDiskFull(err)) throw err;
  }
}
