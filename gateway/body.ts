import type Koa from 'koa';
import { HttpMethodEnum, koaBody } from 'koa-body';
import { ApiError, fail } from './errors.ts';

const jsonLimit = 64 * 1024;

/** A failure of koa-body (raw-body, co-body) as the catalog error it means. */
function asCatalogError(err: Error & { type?: string; status?: number; code?: string }): Error {
  if (err instanceof ApiError) return err;
  if (err.type === 'entity.too.large') return fail('too_large', `A JSON body may hold at most ${jsonLimit / 1024} KiB.`);
  if (err.type === 'encoding.unsupported') return fail('unsupported_media_type', `The body's character set is not supported: ${err.message}`);
  if (err instanceof SyntaxError) return fail('invalid_request', 'The body is not valid JSON.');
  if (err.type === 'request.aborted' || err.type === 'request.size.invalid') return fail('invalid_request', 'The body ended before its declared length.');
  return err;
}

/** koa-body reading JSON only, for every method that may carry a body here (DELETE too). */
const parseJson = koaBody({
  json: true,
  urlencoded: false,
  text: false,
  multipart: false,
  jsonLimit,
  jsonStrict: true,
  jsonTypes: ['application/json'],
  parsedMethods: [HttpMethodEnum.POST, HttpMethodEnum.PUT, HttpMethodEnum.PATCH, HttpMethodEnum.DELETE],
  onError: (err) => {
    throw asCatalogError(err);
  },
});

/** Whether the request says it carries a body: a Content-Length over 0, or a chunked one. */
function hasBody(ctx: Koa.Context): boolean {
  return ctx.get('transfer-encoding') !== '' || (ctx.request.length ?? 0) > 0;
}

/**
 * Reads a JSON object body of at most 64 KiB through koa-body. No body reads as `{}`, a body
 * without a type as JSON; a body of another type than `application/json`, or compressed
 * (Content-Encoding), is `415 unsupported_media_type`, one
 * that is not a JSON object `400 invalid_request`, a larger one `413 too_large` (refused by
 * its declared length before reading, else where the read passes the limit).
 */
export async function readJson(ctx: Koa.Context): Promise<Record<string, unknown>> {
  if (!hasBody(ctx)) return {};
  // The protocol reads a body without a type as JSON; koa-body goes by the type, so it is named.
  if (ctx.request.type === '') ctx.req.headers['content-type'] = 'application/json';
  if (ctx.request.type !== 'application/json') {
    throw fail('unsupported_media_type', `Send JSON with Content-Type: application/json, not ${ctx.request.type}.`);
  }
  // A body this small gains nothing from compression, and each decoder is one more way to fail.
  const encoding = ctx.get('content-encoding').trim().toLowerCase();
  if (encoding !== '' && encoding !== 'identity') throw fail('unsupported_media_type', `Send JSON uncompressed, without Content-Encoding: ${encoding}.`);
  await parseJson(ctx, async () => {});
  const value: unknown = ctx.request.body;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw fail('invalid_request', 'The body must be a JSON object.');
  }
  return value as Record<string, unknown>;
}
