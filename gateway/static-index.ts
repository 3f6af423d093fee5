import type Koa from 'koa';
import type { AppDeps } from './app.ts';
import type { Snapshot } from '../index-repo/types.ts';
import { fail } from './errors.ts';
import { notModified } from './conditional.ts';

const PREFIX = '/index/';

/**
 * The public index's files as PROTOCOL.md serves them under /index/: read from the tree of
 * `main` (the blob cache keeps hot files in memory), the blob id as a ready-made ETag, 304 on
 * a match, `no-cache` for metadata and a year's `immutable` for bundles.
 */
export function staticIndex(deps: AppDeps): Koa.Middleware {
  return async (ctx, next) => {
    if (!ctx.path.startsWith(PREFIX)) return next();
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') throw fail('method_not_allowed', 'The index is read-only: use GET or HEAD.');
    const relative = indexPath(ctx.path.slice(PREFIX.length));
    const file = relative === null ? null : await findFile(deps.index.snapshot(), relative);
    if (!file) throw fail('not_found', 'There is no such file in the index.');
    ctx.set('ETag', file.etag);
    ctx.set('Cache-Control', cacheControl(relative as string));
    ctx.type = contentType(relative as string);
    ctx.status = 200;
    if (notModified(ctx.get('If-None-Match'), file.etag)) {
      ctx.status = 304;
      return;
    }
    ctx.body = file.content;
  };
}

/**
 * Turns the URL path below /index/ into a path of the index, or null for anything that could
 * step outside it or into Git's own folder: `..`, `.`, empty parts, encoded slashes or
 * backslashes, NUL, and any part starting with `.git`.
 */
export function indexPath(raw: string): string | null {
  const parts: string[] = [];
  for (const encoded of raw.split('/')) {
    let part: string;
    try {
      part = decodeURIComponent(encoded);
    } catch {
      return null;
    }
    if (part === '' || part === '.' || part === '..' || /[/\\\0]/.test(part) || part.toLowerCase().startsWith('.git')) return null;
    parts.push(part);
  }
  return parts.length > 0 ? parts.join('/') : null;
}

async function findFile(snapshot: Snapshot, relative: string): Promise<{ etag: string; content: Buffer } | null> {
  const entry = await snapshot.entry(relative);
  if (entry?.type !== 'blob') return null;
  return { etag: `"${entry.oid}"`, content: (await snapshot.readFile(relative)) as Buffer };
}

export function cacheControl(relative: string): string {
  return relative.endsWith('.pkg.gz') ? 'public, max-age=31536000, immutable' : 'no-cache';
}

export function contentType(relative: string): string {
  if (relative.endsWith('.json')) return 'application/json; charset=utf-8';
  if (relative.endsWith('.gz')) return 'application/gzip';
  return 'application/octet-stream';
}
