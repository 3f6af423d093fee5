import type { IncomingMessage } from 'node:http';
import type Koa from 'koa';

/** How much of the rest of an early-answered body is read, and for how long, before the connection is closed anyway. */
export type Linger = { bytes: number; ms: number };

/** As nginx's lingering close: 30 s at most (its `lingering_time`), and past the largest upload. */
export const defaultLinger: Linger = { bytes: 64 * 1024 * 1024, ms: 30_000 };

/**
 * Answers refused before their body was read (401, 403, 413, 415, ...) reach the client.
 * Node's server would otherwise close the connection as soon as it has answered, with the
 * client's body still arriving: the kernel then resets the connection, and a client that
 * writes its whole body before reading (Node's own `http` client does) gets EPIPE instead of
 * the answer. So the answer keeps the connection open, the rest of the body is read and
 * discarded (at most `bytes`, for at most `ms`; an idle connection closes at the keep-alive
 * timeout), and then the connection closes if the client asked for that, or serves the next
 * request.
 */
export function lingeringClose(linger: Linger = defaultLinger): Koa.Middleware {
  return async (ctx, next) => {
    await next();
    const req = ctx.req;
    if (req.complete || req.destroyed || ctx.headerSent || !hasBody(req)) return;
    ctx.set('Connection', 'keep-alive');
    ctx.res.once('finish', () => drain(req, linger));
  };
}

function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/** Reads and discards the rest of `req`, then ends the connection if the client asked to close it. */
function drain(req: IncomingMessage, linger: Linger): void {
  const socket = req.socket;
  const wantsClose = /\bclose\b/i.test(req.headers.connection ?? '') || req.httpVersion === '1.0';
  let read = 0;
  const giveUp = () => socket.destroy();
  const timer = setTimeout(giveUp, linger.ms);
  timer.unref();
  req.on('data', (chunk: Buffer) => {
    read += chunk.length;
    if (read > linger.bytes) giveUp();
  });
  req.once('end', () => {
    if (wantsClose) socket.end();
  });
  req.once('close', () => clearTimeout(timer));
  req.resume();
}
