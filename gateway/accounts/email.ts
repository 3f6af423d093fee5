/**
 * An email address as the registry keeps it: trimmed and lower-cased (addresses are
 * matched case-insensitively), or null when it is not a plausible address. Plausible:
 * at most 254 printable ASCII characters, one `@`, a local part of at most 64, a domain
 * with a dot and no empty label. Anything stranger would not survive a mail header anyway.
 */
export function normaliseEmail(raw: unknown): string | null {
  if (typeof raw !== 'string') return null;
  const email = raw.trim().toLowerCase();
  if (email.length > 254 || !/^[\x21-\x7e]+$/.test(email)) return null;
  const match = /^([^@<>()[\]\\,;:"]+)@([a-z0-9-]+(?:\.[a-z0-9-]+)+)$/.exec(email);
  if (!match) return null;
  const [, local = '', domain = ''] = match;
  if (local.length > 64 || local.startsWith('.') || local.endsWith('.') || local.includes('..')) return null;
  if (domain.split('.').some((label) => label.length > 63 || label.startsWith('-') || label.endsWith('-'))) return null;
  return email;
}
