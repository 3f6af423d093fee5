import crypto from 'node:crypto';

/**
 * Every secret the registry hands out: 256 random bits, base64url, behind a prefix naming
 * its kind (so a leaked one is recognisable, as GitHub's and npm's are). Only hashes are stored.
 */
export type SecretKind = 'session' | 'token' | 'fetch' | 'link';

const prefixes: Record<SecretKind, string> = { session: 'grs_', token: 'grt_', fetch: 'grf_', link: '' };

export function newSecret(kind: SecretKind): string {
  return prefixes[kind] + crypto.randomBytes(32).toString('base64url');
}

/** The kind a presented bearer token claims by its prefix, or null. */
export function secretKind(secret: string): SecretKind | null {
  if (secret.startsWith(prefixes.session)) return 'session';
  if (secret.startsWith(prefixes.token)) return 'token';
  if (secret.startsWith(prefixes.fetch)) return 'fetch';
  return null;
}

/** SHA-256 of a 256-bit secret: enough, since the secret cannot be guessed to start with. */
export function hashSecret(secret: string): Buffer {
  return crypto.createHash('sha256').update(secret, 'utf8').digest();
}

/** Compares two hashes in constant time. */
export function sameHash(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

/** The code alphabet: digits and capitals without 0, O, 1, I and L, which people misread. */
export const codeAlphabet = '23456789ABCDEFGHJKMNPQRSTUVWXYZ';
export const codeLength = 8;

/** A confirmation code of 8 characters, each drawn uniformly with crypto.randomInt. */
export function newCode(): string {
  let code = '';
  for (let i = 0; i < codeLength; i++) code += codeAlphabet[crypto.randomInt(codeAlphabet.length)];
  return code;
}

/** A typed code as compared: upper case, without spaces and dashes. */
export function normaliseCode(typed: string): string {
  return typed.replace(/[\s-]+/g, '').toUpperCase();
}

/**
 * The stored form of a code: an HMAC keyed by the fetch token. The code alone has only
 * about 40 bits, but the fetch token is not stored, so the data folder does not let
 * anyone search for the code offline.
 */
export function hashCode(fetchToken: string, code: string): Buffer {
  return crypto.createHmac('sha256', fetchToken).update(normaliseCode(code), 'utf8').digest();
}
