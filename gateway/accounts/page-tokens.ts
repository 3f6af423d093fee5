import crypto from 'node:crypto';
import { sameHash } from './secrets.ts';

/**
 * The token a login link's page puts in its buttons: an HMAC of the link secret under a key
 * drawn when the registry starts and never stored. Only a page this registry rendered for that
 * link carries it, so a POST built from the link alone (a scanner replaying the mailed address,
 * another login's page) is refused. A restart draws a new key: a page left open across it
 * asks for the link to be opened again.
 */
export type PageTokens = {
  issue(linkSecret: string): string;
  valid(linkSecret: string, token: string): boolean;
};

export function createPageTokens(): PageTokens {
  const key = crypto.randomBytes(32);
  const issue = (linkSecret: string) => crypto.createHmac('sha256', key).update(`login-page\0${linkSecret}`, 'utf8').digest('base64url');
  return {
    issue,
    valid: (linkSecret, token) => sameHash(Buffer.from(issue(linkSecret)), Buffer.from(token)),
  };
}
