import { STATUS_CODES } from 'node:http';
import type net from 'node:net';
import type { Writable } from 'node:stream';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readCgiHead, type CgiHead } from './cgi-head.ts';

/** One Git request as the registry hands it over (git-spawner.ts), with its client's connection. */
export type AnswerRequest = {
  file: string;
  args: string[];
  env: Record<string, string>;
  /** The request body's bytes the registry read before the handover. */
  body: Uint8Array;
  /** The bytes of the body still to come on the connection (a `Content-Length` body not yet whole). */
  remaining: number;
  /** The request's HTTP version: `1.1` gets a chunked answer, `1.0` one delimited by the close. */
  httpVersion: string;
  /** The answer when Git answers nothing (it failed before its headers): the registry's error body. */
  failure: { status: number; type: string; body: string };
};

/** How an answer ended: the process's exit, the status sent (null: none), the body's bytes, whether the client left first. */
export type AnswerEnd = { code: number | null; signal: NodeJS.Signals | null; stderr: string; status: number | null; bytes: number; aborted: boolean };

export type AnswerEvents = { started(pid: number): void; ended(end: AnswerEnd): void };

/** What a running answer can be told: stop now (its time ran out, or the registry closes). */
export type Answer = { stop(): void };

const STDERR_KEPT = 2000;
/** After the answer, how long a client that keeps its side open is waited for before the connection is closed. */
const LINGER_MS = 5000;
/** Headers of the CGI program that the HTTP framing here decides instead. */
const FRAMING = new Set(['connection', 'content-length', 'transfer-encoding', 'keep-alive']);

/** SIGKILL to a process group; nothing when it is gone already. */
export function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Gone already.
  }
}

/**
 * Answers one request on `socket` with a CGI program (`git http-backend`), in a process group of
 * its own: the body goes to its stdin (what the registry read, then the rest from the connection),
 * its CGI head becomes the HTTP status line and headers (`Connection: close`: the registry's
 * server no longer holds this connection, so nothing more is read from it), its output the body,
 * chunked for HTTP/1.1. The answer ends when the program closes its output having exited by
 * itself (its own errors are the client's to read); a program killed midway, or a client that
 * left, has the connection destroyed, so that the client sees a broken transfer rather than a
 * short one. A client that leaves has the process group killed at once.
 */
export function answer(request: AnswerRequest, socket: net.Socket, events: AnswerEvents): Answer {
  const run = new CgiRun(request, socket, events);
  run.start();
  return { stop: () => run.stop() };
}

class CgiRun {
  private readonly request: AnswerRequest;
  private readonly socket: net.Socket;
  private readonly events: AnswerEvents;
  private readonly chunked: boolean;
  private child: ChildProcessWithoutNullStreams | null = null;
  private pid: number | null = null;
  private stderr = '';
  private status: number | null = null;
  private bytes = 0;
  private aborted = false;
  /** Whether the answer is decided: ended whole, failed, or cut. */
  private answered = false;
  private reported = false;

  constructor(request: AnswerRequest, socket: net.Socket, events: AnswerEvents) {
    this.request = request;
    this.socket = socket;
    this.events = events;
    this.chunked = request.httpVersion !== '1.0';
  }

  start(): void {
    const { request, socket } = this;
    socket.on('error', () => {});
    socket.once('close', () => {
      if (this.answered) return;
      this.aborted = true;
      this.breakOff();
    });
    const env = request.env['REQUEST_METHOD'] === 'POST' ? { ...request.env, CONTENT_LENGTH: String(request.body.length + request.remaining) } : request.env;
    let child: ChildProcessWithoutNullStreams;
    try {
      child = spawn(request.file, request.args, { env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (err) {
      this.stderr = String(err);
      this.fail();
      return this.report(null, null);
    }
    this.child = child;
    feedBody(request, socket, child.stdin);
    this.watch(child);
    readCgiHead(child.stdout).then(
      (head) => this.relay(child, head),
      () => this.fail(),
    );
  }

  /** Stops now (the time ran out, the registry closes): the connection is cut, the process group killed. */
  stop(): void {
    if (!this.answered) this.breakOff();
    else if (this.pid !== null) killGroup(this.pid);
  }

  private watch(child: ChildProcessWithoutNullStreams): void {
    child.stderr.on('data', (chunk: Buffer) => {
      if (this.stderr.length < STDERR_KEPT) this.stderr += chunk.toString('utf8');
    });
    child.once('spawn', () => {
      this.pid = child.pid as number;
      this.events.started(this.pid);
      if (this.answered) killGroup(this.pid);
    });
    child.once('error', (err) => {
      this.stderr += err.message;
      this.fail();
      this.report(null, null);
    });
    // Killed (by a stop, or from outside): whatever was sent is not a whole answer.
    child.once('exit', (_code, signal) => {
      if (signal !== null && !this.answered) this.breakOff();
    });
    child.once('close', (code, signal) => {
      if (!this.answered && this.status !== null) this.finish();
      else if (!this.answered) this.fail();
      this.report(code, signal);
    });
  }

  /** The program's head as the HTTP status line and headers, then its output as the body, at the pace the client reads. */
  private relay(child: ChildProcessWithoutNullStreams, head: CgiHead): void {
    if (this.answered) return;
    const { socket, chunked } = this;
    this.status = head.status;
    // The head leaves with the first piece of the body, in one write.
    socket.cork();
    writeHead(socket, head, chunked ? 'Transfer-Encoding: chunked' : null);
    child.stdout.on('data', (chunk: Buffer) => {
      this.bytes += chunk.length;
      writeBody(socket, chunk, chunked);
      if (!socket.writableNeedDrain) return;
      child.stdout.pause();
      socket.once('drain', () => child.stdout.resume());
    });
    child.stdout.resume();
    process.nextTick(() => socket.uncork());
  }

  /** The connection is cut: the client sees a broken transfer, and the process, if alive, is killed. */
  private breakOff(): void {
    this.answered = true;
    this.socket.destroy();
    this.child?.stdout.destroy();
    if (this.pid !== null) killGroup(this.pid);
  }

  /** The answer is whole: its last chunk, then the close. */
  private finish(): void {
    this.end(this.chunked ? '0\r\n\r\n' : '');
  }

  /** Ends the answer with `last`; the connection closes once the client has read it and closed its side (or after a while). */
  private end(last: string): void {
    this.answered = true;
    this.socket.end(last);
    this.socket.setTimeout(LINGER_MS, () => this.socket.destroy());
  }

  /** The program answered nothing usable: the registry's error instead, if the client is still there. */
  private fail(): void {
    if (this.pid !== null) killGroup(this.pid);
    if (this.answered) return;
    const { status, type, body } = this.request.failure;
    this.status = status;
    writeHead(this.socket, { status, headers: [['Content-Type', type]] }, `Content-Length: ${Buffer.byteLength(body)}`);
    this.end(body);
  }

  private report(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.reported) return;
    this.reported = true;
    const { stderr, status, bytes, aborted } = this;
    this.events.ended({ code, signal, stderr, status, bytes, aborted });
  }
}

/**
 * The request body into the program's stdin: the bytes the registry read, then the next
 * `remaining` bytes of the connection. The connection goes on being read after the body (what
 * follows, a pipelined request, is dropped: the answer closes the connection), so that a client
 * that leaves is seen at once.
 */
function feedBody(request: AnswerRequest, socket: net.Socket, stdin: Writable): void {
  let remaining = request.remaining;
  stdin.on('error', () => {});
  stdin.write(request.body);
  if (remaining === 0) stdin.end();
  socket.on('data', (chunk: Buffer) => {
    if (remaining === 0) return;
    const part = chunk.subarray(0, remaining);
    remaining -= part.length;
    if (!stdin.write(part)) {
      socket.pause();
      stdin.once('drain', () => socket.resume());
    }
    if (remaining === 0) stdin.end();
  });
  socket.once('end', () => remaining > 0 && stdin.end());
}

/** The status line and headers: the program's own, the date, `Connection: close`, and `framing` (how the body ends; null: at the close). */
function writeHead(socket: net.Socket, head: CgiHead, framing: string | null): void {
  const lines = [`HTTP/1.1 ${head.status} ${STATUS_CODES[head.status] ?? ''}`];
  for (const [name, value] of head.headers) if (!FRAMING.has(name.toLowerCase())) lines.push(`${name}: ${value}`);
  lines.push(`Date: ${new Date().toUTCString()}`, 'Connection: close');
  if (framing !== null) lines.push(framing);
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
}

/** One piece of the body, as one chunk when chunked, in one write to the connection. */
function writeBody(socket: net.Socket, data: Buffer, chunked: boolean): void {
  if (!chunked) {
    socket.write(data);
    return;
  }
  socket.cork();
  socket.write(`${data.length.toString(16)}\r\n`);
  socket.write(data);
  socket.write('\r\n');
  socket.uncork();
}
