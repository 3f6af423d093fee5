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

/** Domains whose mail goes to the same mailboxes, by the name the limits count them under. */
const sameDomain: Record<string, string> = { 'googlemail.com': 'gmail.com' };
/** Domains that ignore dots in the local part. */
const dotless = new Set(['gmail.com']);

/**
 * The mailbox a (normalised) address delivers to, treating the address as the mail provider
 * would, so that a limit per address is a limit per mailbox: the `+tag` is dropped (every
 * large provider delivers `carol+anything@` to `carol@`), and at Gmail, dots in the local part
 * are ignored and `googlemail.com` is `gmail.com`. Only for counting: mail still goes to the
 * address as typed, and accounts stay keyed by it.
 */
export function mailboxOf(email: string): string {
  const at = email.lastIndexOf('@');
  const domain = email.slice(at + 1);
  const provider = sameDomain[domain] ?? domain;
  let local = email.slice(0, at).split('+')[0] as string;
  if (dotless.has(provider)) local = local.replaceAll('.', '');
  return `${local}@${provider}`;
}
