/** How much of a text a message quotes. */
const quotedLength = 60;

/**
 * A value from a client, as an error message may quote it: a string as JSON, cut to 60
 * characters; a list or an object by its kind only. Never throws and never grows with the
 * value, whatever its size or nesting.
 */
export function shown(value: unknown): string {
  if (typeof value === 'string') {
    const cut = [...value.slice(0, quotedLength * 2)].slice(0, quotedLength).join('');
    return cut.length < value.length ? `${JSON.stringify(cut).slice(0, -1)}…"` : JSON.stringify(value);
  }
  if (Array.isArray(value)) return 'a list';
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

/** A size in MiB, to one decimal, for messages. */
export function mebibytes(bytes: number): string {
  return `${Math.round((bytes / 1024 / 1024) * 10) / 10} MiB`;
}
