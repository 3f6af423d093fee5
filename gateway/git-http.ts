import fs from 'node:fs';
import path from 'node:path';
import type Koa from 'koa';
import type { AppDeps } from './app.ts';
import { fail } from './errors.ts';

const PREFIX = '/index.git/';

/** The files a dumb-HTTP `git clone` asks for, and whether they ever change. */
const CLONE_FILES: Array<{ pattern: RegExp; immutable: boolean }> = [
  { pattern: /^HEAD$/, immutable: false },
  { pattern: /^info\/refs$/, immutable: false },
  { pattern: /^objects\/info\/packs$/, immutable: false },
  { pattern: /^objects\/[0-9a-f]{2}\/[0-9a-f]{38}$/, immutable: true },
  { pattern: /^objects\/pack\/pack-[0-9a-f]{40}\.(pack|idx)$/, immutable: true },
];

/**
 * Serves the public index repository for `git clone <registry>/index.git` over plain HTTP:
 * only the files Git's dumb protocol reads, straight from the bare repository, which the
 * index repository keeps ready for it (server info current, objects packed).
 */
export function gitHttp(deps: AppDeps): Koa.Middleware {
  return async (ctx, next) => {
    if (!ctx.path.startsWith(PREFIX)) return next();
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') throw fail('method_not_allowed', 'The index repository is read-only: use GET or HEAD.');
    const relative = ctx.path.slice(PREFIX.length);
    const rule = CLONE_FILES.find((r) => r.pattern.test(relative));
    if (!rule) throw fail('not_found', 'There is no such file in the index repository.');
    const file = path.join(deps.index.gitDir, relative);
    let stat: fs.Stats;
    try {
      stat = await fs.promises.stat(file);
    } catch {
      throw fail('not_found', 'There is no such file in the index repository.');
    }
    ctx.set('Cache-Control', rule.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    ctx.type = relative.startsWith('objects/') ? 'application/x-git-loose-object' : 'text/plain; charset=utf-8';
    if (relative.startsWith('objects/pack/')) ctx.type = relative.endsWith('.pack') ? 'application/x-git-packed-objects' : 'application/x-git-packed-objects-toc';
    ctx.length = stat.size;
    ctx.lastModified = stat.mtime;
    ctx.status = 200;
    if (ctx.fresh) {
      ctx.status = 304;
      return;
    }
    if (ctx.method === 'HEAD') return;
    ctx.body = fs.createReadStream(file);
  };
}
