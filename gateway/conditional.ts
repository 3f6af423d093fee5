/**
 * Whether a request's `If-None-Match` matches the ETag, so that the answer is 304. As the
 * origin server, the registry answers 304 on a match whatever the request's Cache-Control
 * says (Koa's `ctx.fresh` is written for caches and ignores validators under `no-cache`,
 * which fetch() sends with every conditional request).
 */
export function notModified(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  if (ifNoneMatch.trim() === '*') return true;
  const weak = (tag: string) => tag.trim().replace(/^W\//, '');
  return ifNoneMatch.split(',').some((tag) => weak(tag) === weak(etag));
}
