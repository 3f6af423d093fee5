/** Rows as lines of columns aligned two spaces apart (the first row is the header); trailing spaces trimmed. */
export function tableLines(rows: string[][]): string[] {
  const widths = (rows[0] ?? []).map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd());
}

/** A time of the registry's answers as a person reads it: `2030-01-31 12:05` (UTC), or `-`. */
export function minute(iso: string | null): string {
  return iso === null ? '-' : iso.slice(0, 16).replace('T', ' ');
}

/** A date of the registry's answers: `2030-01-31`, or `-`. */
export function day(iso: string | null): string {
  return iso === null ? '-' : iso.slice(0, 10);
}
