import crypto from 'node:crypto';
import type { Delivery } from './delivery-store.ts';

/** `sha256=<hex HMAC-SHA256 of the body>`, the value of `X-Registry-Signature`. */
export function signature(body: string | Uint8Array, secret: string): string {
  return `sha256=${crypto.createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** The webhook body: `{"event", "package", "version", "commit"}`. */
export function webhookBody(delivery: Delivery): string {
  return JSON.stringify({ event: delivery.event, package: delivery.package, version: delivery.version, commit: delivery.commit });
}

/** The request a delivery makes: the site's import form, or a signed webhook. */
export function deliveryRequest(delivery: Delivery, secret: string | null): { url: string; init: RequestInit } {
  if (delivery.target === 'site') {
    return {
      url: `${delivery.url}/import/init`,
      init: {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ packageName: delivery.package }).toString(),
      },
    };
  }
  const body = webhookBody(delivery);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (secret !== null) headers['x-registry-signature'] = signature(body, secret);
  return { url: delivery.url, init: { method: 'POST', headers, body } };
}

/**
 * Whether an answer settles a delivery. Any 2xx does. The documentation site answers its
 * import form with `303 See Other` when it takes the import, and `409` when an import of
 * the package is registered already (it imports every missing version); both settle it.
 */
export function settles(delivery: Delivery, status: number): boolean {
  if (status >= 200 && status < 300) return true;
  return delivery.target === 'site' && ((status >= 300 && status < 400) || status === 409);
}

/** Makes one attempt; resolves with null when settled, or with what went wrong. */
export async function attempt(delivery: Delivery, secret: string | null, signal: AbortSignal): Promise<string | null> {
  const { url, init } = deliveryRequest(delivery, secret);
  try {
    const res = await fetch(url, { ...init, redirect: 'manual', signal });
    await res.body?.cancel();
    return settles(delivery, res.status) ? null : `HTTP ${res.status}`;
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    return err instanceof Error ? `${err.name}${cause ? ` ${cause}` : ''}: ${err.message}` : String(err);
  }
}
