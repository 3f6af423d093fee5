import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type Koa from 'koa';
import type { Logger } from '../log.ts';
import { fail } from '../errors.ts';
import { signature } from '../notifications/deliver.ts';

/** Where the primary's webhooks reach a replica: a `WEBHOOK_URLS` entry of the primary is `<replica>/replica/webhook`. */
export const WEBHOOK_PATH = '/replica/webhook';

/** The largest webhook body read (the primary's are about 200 bytes). */
const BODY_LIMIT = 64 * 1024;

export type WebhookDeps = {
  /** The secret the primary signs with (its WEBHOOK_SECRET); null: every webhook is refused. */
  secret: string | null;
  log: Logger;
  /** Asks for a fetch (not waited for). */
  sync(): void;
};

/**
 * `POST /replica/webhook`: the primary's signed notice of a publish or revoke (docs/protocol.md,
 * Notifications). A body whose `X-Registry-Signature` is the HMAC-SHA256 of its bytes under the
 * shared secret asks for a fetch at once and is answered `202`; any other is refused (`401`)
 * and logged, and fetches nothing.
 */
export function replicaWebhook(deps: WebhookDeps): Koa.Middleware {
  return async (ctx, next) => {
    if (ctx.path !== WEBHOOK_PATH) return next();
    if (ctx.method !== 'POST') throw fail('method_not_allowed', 'The webhook takes a POST.');
    if (deps.secret === null) {
      deps.log.warn('replica_webhook_refused', { reason: 'WEBHOOK_SECRET is unset' });
      throw fail('forbidden', 'This replica takes no webhooks: its WEBHOOK_SECRET is unset.');
    }
    const body = await readBody(ctx.req);
    const given = ctx.get('x-registry-signature');
    if (!signedWith(body, given, deps.secret)) {
      deps.log.warn('replica_webhook_refused', { reason: given === '' ? 'no signature' : 'wrong signature' });
      throw fail('unauthorized', "The webhook's X-Registry-Signature is missing or wrong.");
    }
    deps.log.info('replica_webhook', describe(body));
    deps.sync();
    ctx.status = 202;
    ctx.body = { status: 'accepted' };
  };
}

/** Whether `given` is `sha256=<HMAC-SHA256 of body>` under `secret`, compared in constant time. */
export function signedWith(body: Uint8Array, given: string, secret: string): boolean {
  const expected = Buffer.from(signature(body, secret));
  const actual = Buffer.from(given);
  return actual.length === expected.length && crypto.timingSafeEqual(actual, expected);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > BODY_LIMIT) throw fail('too_large', `A webhook body may hold at most ${BODY_LIMIT / 1024} KiB.`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** The event, package and version a webhook names, for the log (nothing else of it). */
function describe(body: Buffer): Record<string, string> {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    const fields: Record<string, string> = {};
    for (const key of ['event', 'package', 'version']) if (typeof parsed[key] === 'string') fields[key] = (parsed[key] as string).slice(0, 100);
    return fields;
  } catch {
    return {};
  }
}
