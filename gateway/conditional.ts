/**
 * Whether a request's `If-None-Match` names `etag` (weak comparison, `*` matches anything),
 * so that the answer is `304 Not Modified`. Unlike Koa's `ctx.fresh`, a request's
 * `Cache-Control: no-cache` does not turn this off: that directive is for caches on the way,
 * while the origin still answers the condition (RFC 9110, 13.1.2). `fetch` sends it with
 * every conditional request.
 */
export function notModified(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  if (ifNoneMatch.trim() === '*') return true;
  const weak = (tag: string) => tag.trim().replace(/^W\//, '');
  return ifNoneMatch.split(',').some((tag) => weak(tag) === weak(etag));
}
