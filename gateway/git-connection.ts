import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type Koa from 'koa';
import { fail } from './errors.ts';
import { GitStoppedError, type GitConnection, type GitEnd } from '../index-repo/git-processes.ts';
import { GIT_BODY_LIMIT } from '../index-repo/upload-pack.ts';

/** A TCP connection's handle in Node's `net.Socket` (`_handle`), as far as the handover uses it. */
type TcpHandle = { readStop(): number; close(): void };
type WithHandle = { _handle: TcpHandle | null };

/** What the request log reads of a request whose connection was handed over: whether its answer was cut short (its client left, its time ran out). */
type HandedOff = { cutShort: boolean };

/** Refuses, before any work, a body larger than Git would take: `413 too_large`. */
export function checkBodySize(ctx: Koa.Context): void {
  if (Number(ctx.get('content-length') || 0) > GIT_BODY_LIMIT) throw tooLarge();
}

export const tooLarge = () => fail('too_large', `A Git request body is at most ${GIT_BODY_LIMIT / 1024 / 1024} MiB.`);

/**
 * Takes a Git request's connection from Node's HTTP server, for the spawner to answer on, with
 * the request's bytes: its head as the client sent it (names, values and order of its headers),
 * then its body. A chunked body is read whole first (at most `GIT_BODY_LIMIT`) and goes with a
 * `Content-Length` instead; a body of declared length goes with the bytes read so far, the rest to
 * be read by the spawner off the connection. Then, in one turn of the event loop: nothing more is
 * read from the connection here, the body's bytes buffered in the request are taken, and the
 * socket lets go of its handle and is destroyed, so that the HTTP server frees the connection
 * (its parser, its count, its timeouts) as a closed one, and Koa answers nothing
 * (`ctx.respond = false`). The handle itself stays open until it is sent.
 */
export async function takeGitConnection(ctx: Koa.Context, signal: AbortSignal): Promise<GitConnection> {
  const req = ctx.req;
  const whole = req.headers['transfer-encoding'] === undefined ? null : await readWhole(req, signal);
  await answersBeforeSent(ctx, signal);
  const socket = req.socket as IncomingMessage['socket'] & WithHandle;
  const handle = socket._handle;
  if (handle === null || socket.destroyed) throw new GitStoppedError('aborted');
  handle.readStop();
  socket._handle = null;
  const buffered = readBuffered(req);
  const handedOff: HandedOff = { cutShort: false };
  ctx.state.handedOff = handedOff;
  ctx.respond = false;
  socket.destroy();
  return { handle, bytes: Buffer.concat([requestHead(req, whole === null ? null : whole.length), whole ?? buffered]) };
}

/** Headers the head written again leaves out when the body was read whole: it goes with its length instead. */
const BODY_FRAMING = new Set(['transfer-encoding', 'content-length']);

/**
 * The request's head, as the client sent it; with `wholeLength`, its body's framing replaced by
 * that length. Without `Expect`: Node's HTTP server has answered `100 Continue` already.
 */
function requestHead(req: IncomingMessage, wholeLength: number | null): Buffer {
  const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = (req.rawHeaders[i] as string).toLowerCase();
    if (name === 'expect' || (wholeLength !== null && BODY_FRAMING.has(name))) continue;
    lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
  }
  if (wholeLength !== null) lines.push(`Content-Length: ${wholeLength}`);
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

/** Whether this request's connection was handed over (then its log line waits for the answer's end). */
export function isHandedOff(ctx: Koa.Context): boolean {
  return ctx.state.handedOff !== undefined;
}

/**
 * For the request log, whether the answer on a handed-over connection was cut short (its client
 * left, or it was stopped: `request_aborted`, as for a client gone here); null for a request
 * answered here.
 */
export function answerCutShort(ctx: Koa.Context): boolean | null {
  return isHandedOff(ctx) ? (ctx.state.handedOff as HandedOff).cutShort : null;
}

/** Records how the spawner's answer ended: its status for the request log and metrics, or that it was cut short. */
export function answeredWith(ctx: Koa.Context, end: GitEnd): void {
  (ctx.state.handedOff as HandedOff).cutShort = end.stopped !== null;
  // Nothing sent (the spawner died first): the request failed on our side.
  ctx.status = end.status ?? 500;
}

/**
 * Waits until the answers to the requests before this one on its connection (pipelined) are
 * written: the connection is this request's, and nothing of theirs is left to send.
 */
async function answersBeforeSent(ctx: Koa.Context, signal: AbortSignal): Promise<void> {
  if (!ctx.res.socket) await once(ctx.res, 'socket', { signal });
  const socket = ctx.res.socket as IncomingMessage['socket'];
  if (socket.writableLength > 0) await once(socket, 'drain', { signal });
}

/** The body's bytes the HTTP server has parsed into the request and nobody has read. */
function readBuffered(req: IncomingMessage): Buffer {
  const chunks: Buffer[] = [];
  for (let chunk = req.read() as Buffer | null; chunk !== null; chunk = req.read() as Buffer | null) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** A chunked body, whole; `413 too_large` past `GIT_BODY_LIMIT`; rejects when `signal` aborts first. */
function readWhole(req: IncomingMessage, signal: AbortSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (err: unknown) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', settle);
      signal.removeEventListener('abort', onAbort);
      req.pause();
      if (err) reject(err);
      else resolve(Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > GIT_BODY_LIMIT) settle(tooLarge());
      else chunks.push(chunk);
    };
    const onEnd = () => settle(null);
    const onAbort = () => settle(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', settle);
  });
}
