import type Koa from 'koa';
import { fail } from './errors.ts';

const jsonLimit = 64 * 1024;

/**
 * Reads a JSON object body of at most 64 KiB. An empty body reads as `{}`; anything
 * that is not a JSON object is `400 invalid_request`, a larger body `413 too_large`.
 */
export async function readJson(ctx: Koa.Context): Promise<Record<string, unknown>> {
  const type = ctx.request.type;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > jsonLimit) throw fail('too_large', `A JSON body may hold at most ${jsonLimit / 1024} KiB.`);
    chunks.push(chunk);
  }
  if (size === 0) return {};
  if (type !== '' && type !== 'application/json') {
    throw fail('unsupported_media_type', `Send JSON with Content-Type: application/json, not ${type}.`);
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw fail('invalid_request', 'The body is not valid JSON.');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw fail('invalid_request', 'The body must be a JSON object.');
  }
  return value as Record<string, unknown>;
}
