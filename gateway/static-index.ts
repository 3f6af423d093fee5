import type http from 'node:http';
import type Koa from 'koa';
import type { AppDeps } from './app.ts';
import type { EntryInfo, Snapshot } from '../index-repo/types.ts';
import type { Logger } from './log.ts';
import type { Metrics } from './metrics.ts';
import { Lru } from '../index-repo/lru.ts';
import { fail } from './errors.ts';
import { notModified } from './conditional.ts';
import { logRequest } from './log-request.ts';

const PREFIX = '/index/';

/** Bytes of index files kept ready to send (their bodies are mostly the blob cache's own buffers). */
const READY_BYTES = 32 * 1024 * 1024;

/** A file of the index ready to send: its body in memory, its headers built once. */
type ReadyFile = {
  /** The state of the index (a commit of `main` and the content refs beside it) this file was last found in; current while the index is in it. */
  state: Snapshot;
  etag: string;
  body: Buffer;
  /** The headers of a 200 (and of a HEAD). */
  headers: Record<string, string>;
  /** The headers of a 304. */
  revalidated: Record<string, string>;
};

/** Where the state served now comes from: the index repository, or a replica's last checked state (null before it has one). */
export type StateSource = { snapshot(): Snapshot | null };

/** The public index's files under /index/, with the answers to the last requested ones kept ready. */
export type IndexFiles = {
  /** The ready file at `relative` when it is known to be current, without waiting; else null. */
  cached(relative: string): ReadyFile | null;
  /** The file at `relative` on the current `main`, or null; kept ready for the next request. */
  find(relative: string): Promise<ReadyFile | null>;
};

/**
 * Reads files as the served folder holds them: the tree of `main`, and bundles from their refs
 * (the blob cache keeps hot ones in memory), and keeps each one's answer ready, keyed by path and
 * checked against the blob id: after a commit, a file whose blob is unchanged keeps its ready
 * answer once the tree says so, at once when the trees on its path are in memory (as the ones a
 * commit built are), else after they are read.
 */
export function createIndexFiles(index: StateSource, readyBytes: number = READY_BYTES): IndexFiles {
  const ready = new Lru<string, ReadyFile>(readyBytes, (file) => file.body.length + 512);
  /** The ready file, confirmed current in `snapshot` when that state serves the same blob at its path. */
  const confirmed = (file: ReadyFile | undefined, snapshot: Snapshot, entry: EntryInfo | null | undefined): ReadyFile | null => {
    if (file === undefined || entry?.type !== 'blob' || file.etag !== `"${entry.oid}"`) return null;
    file.state = snapshot;
    return file;
  };
  return {
    cached(relative) {
      const file = ready.get(relative);
      const snapshot = index.snapshot();
      if (file === undefined || snapshot === null) return null;
      if (file.state === snapshot) return file;
      // A commit since: the file is still current when the trees in memory say its blob is unchanged.
      return confirmed(file, snapshot, snapshot.knownServedEntry(relative));
    },
    async find(relative) {
      const snapshot = index.snapshot();
      if (snapshot === null) return null;
      const entry = await snapshot.servedEntry(relative);
      if (entry?.type !== 'blob') return null;
      const known = confirmed(ready.get(relative), snapshot, entry);
      if (known !== null) return known;
      const file = readyFile(relative, snapshot, `"${entry.oid}"`, await snapshot.readBlob(entry.oid));
      ready.set(relative, file);
      return file;
    },
  };
}

function readyFile(relative: string, state: Snapshot, etag: string, body: Buffer): ReadyFile {
  const revalidated = { ETag: etag, 'Cache-Control': cacheControl(relative) };
  const headers = { ...revalidated, 'Content-Type': contentType(relative), 'Content-Length': String(body.length) };
  return { state, etag, body, headers, revalidated };
}

/** The one answer to a GET or HEAD of an index file: 304 on a matching ETag, else 200. */
function answer(file: ReadyFile, method: string, ifNoneMatch: string | undefined): { status: 200 | 304; headers: Record<string, string>; body: Buffer | null } {
  if (notModified(ifNoneMatch, file.etag)) return { status: 304, headers: file.revalidated, body: null };
  return { status: 200, headers: file.headers, body: method === 'HEAD' ? null : file.body };
}

/**
 * The public index's files as docs/protocol.md serves them under /index/: read from the tree of
 * `main`, the blob id as a ready-made ETag, 304 on a match, `no-cache` for metadata and a
 * year's `immutable` for bundles. Every refusal (a method other than GET and HEAD, a path
 * outside the index, a missing file) is answered here, as a catalog error.
 */
export function staticIndex(deps: Pick<AppDeps, 'indexFiles'>): Koa.Middleware {
  return async (ctx, next) => {
    if (!ctx.path.startsWith(PREFIX)) return next();
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') throw fail('method_not_allowed', 'The index is read-only: use GET or HEAD.');
    const relative = indexPath(ctx.path.slice(PREFIX.length));
    const file = relative === null ? null : await deps.indexFiles.find(relative);
    if (!file) throw fail('not_found', 'There is no such file in the index.');
    const { status, headers, body } = answer(file, ctx.method, ctx.get('If-None-Match'));
    ctx.status = status;
    ctx.set(headers);
    if (body) ctx.body = body;
  };
}

/**
 * The same answers without Koa, for the files kept ready: a node:http request listener that
 * answers a GET or HEAD of a ready file under /index/ and logs its line, and returns false
 * (answering nothing) for every other request, which then goes to the app.
 */
export function indexFastPath(deps: { indexFiles: IndexFiles; log: Logger; metrics: Metrics }): (req: http.IncomingMessage, res: http.ServerResponse) => boolean {
  return (req, res) => {
    const { method = '', url = '' } = req;
    if ((method !== 'GET' && method !== 'HEAD') || !url.startsWith(PREFIX)) return false;
    const started = performance.now();
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    const relative = indexPath(path.slice(PREFIX.length));
    const file = relative === null ? null : deps.indexFiles.cached(relative);
    if (!file) return false;
    const { status, headers, body } = answer(file, method, req.headers['if-none-match']);
    res.writeHead(status, headers);
    res.end(body);
    logRequest(deps.log, method, path, status, started);
    deps.metrics.request(method, path, status, started, null);
    return true;
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

export function cacheControl(relative: string): string {
  return relative.endsWith('.pkg.gz') ? 'public, max-age=31536000, immutable' : 'no-cache';
}

export function contentType(relative: string): string {
  if (relative.endsWith('.json')) return 'application/json; charset=utf-8';
  if (relative.endsWith('.gz')) return 'application/gzip';
  return 'application/octet-stream';
}
