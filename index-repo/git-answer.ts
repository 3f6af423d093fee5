import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Writable } from 'node:stream';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readCgiHead, type CgiHead } from './cgi-head.ts';

/** A CGI program to run: its file, arguments and environment (`CONTENT_LENGTH` included). */
export type CgiProgram = { file: string; args: string[]; env: Record<string, string> };

/** An answer the registry gives itself: status, content type and body. */
type OwnAnswer = { status: number; type: string; body: string };

/** One request to answer with a CGI program (`git http-backend`). */
export type AnswerRequest = {
  /** The program, given the body's length (null: no body) and first bytes (Git's priority depends on them). */
  program(contentLength: number | null, start: Buffer): CgiProgram;
  /** The most the body may weigh; past it, `tooLarge` is the answer. */
  bodyLimit: number;
  /** The answer when the program answers nothing (it failed before its headers): the registry's error body. */
  failure: OwnAnswer;
  tooLarge: OwnAnswer;
  /** Whether the connection may stay open after this answer, for the client's next request. */
  keepAlive: boolean;
};

/** How an answer ended: the process's exit, the status sent (null: none), the body's bytes, whether the client left first. */
export type AnswerEnd = { code: number | null; signal: NodeJS.Signals | null; stderr: string; status: number | null; bytes: number; aborted: boolean };

export type AnswerEvents = { started(pid: number): void; ended(end: AnswerEnd): void };

/** What a running answer can be told: stop now (its time ran out, or the registry closes). */
export type Answer = { stop(): void };

const STDERR_KEPT = 2000;
/** Headers of the CGI program that the HTTP framing here decides instead. */
const FRAMING = new Set(['connection', 'content-length', 'transfer-encoding', 'keep-alive', 'date']);

/** SIGKILL to a process group; nothing when it is gone already. */
export function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Gone already.
  }
}

/**
 * Answers one request with a CGI program (`git http-backend`) in a process group of its own: the
 * body goes to its stdin (a chunked one is read whole first, to give its length), its CGI head
 * becomes the answer's status and headers, its output the body (chunked for HTTP/1.1, framed by
 * Node's HTTP server), `Connection: close` unless `keepAlive`. The answer ends when the program
 * closes its output having exited by itself (its own errors are the client's to read); a program
 * killed midway, or a client that left, has the connection destroyed, so that the client sees a
 * broken transfer rather than a short one. A client that leaves has the process group killed at
 * once.
 */
export function answer(request: AnswerRequest, req: IncomingMessage, res: ServerResponse, events: AnswerEvents): Answer {
  const run = new CgiRun(request, req, res, events);
  void run.start();
  return { stop: () => run.stop() };
}

class CgiRun {
  private readonly request: AnswerRequest;
  private readonly req: IncomingMessage;
  private readonly res: ServerResponse;
  private readonly events: AnswerEvents;
  private child: ChildProcessWithoutNullStreams | null = null;
  private pid: number | null = null;
  private stderr = '';
  private status: number | null = null;
  private bytes = 0;
  private aborted = false;
  /** Whether the answer is decided: ended whole, failed, or cut. */
  private answered = false;
  private reported = false;

  constructor(request: AnswerRequest, req: IncomingMessage, res: ServerResponse, events: AnswerEvents) {
    this.request = request;
    this.req = req;
    this.res = res;
    this.events = events;
  }

  async start(): Promise<void> {
    // Nothing is reported before `answer` has returned.
    await Promise.resolve();
    if (this.answered) return;
    const { request, req, res } = this;
    if (req.socket.destroyed) {
      this.aborted = true;
      this.answered = true;
      return this.report(null, null);
    }
    res.once('close', () => {
      if (this.answered || res.writableFinished) return;
      this.aborted = true;
      this.breakOff();
      // Without a process, nothing else will report the end.
      if (this.child === null) this.report(null, null);
    });
    if (!request.keepAlive) res.setHeader('Connection', 'close');
    const body = req.method === 'POST' ? await readStart(req, request.bodyLimit) : { length: null, start: Buffer.alloc(0), whole: true };
    if (this.answered) return this.report(null, null);
    if (body === null) {
      this.ownAnswer(request.tooLarge);
      return this.report(null, null);
    }
    let child: ChildProcessWithoutNullStreams;
    try {
      const { file, args, env } = request.program(body.length, body.start);
      child = spawn(file, args, { env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (err) {
      this.stderr = String(err);
      this.fail();
      return this.report(null, null);
    }
    this.child = child;
    feedBody(req, body, child.stdin);
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
    if (this.child === null) this.report(null, null);
  }

  private watch(child: ChildProcessWithoutNullStreams): void {
    child.stderr.on('data', (chunk: Buffer) => {
      if (this.stderr.length < STDERR_KEPT) this.stderr += chunk.toString('utf8');
    });
    child.once('spawn', () => {
      this.pid = child.pid as number;
      this.events.started(this.pid);
      if (this.answered && !this.res.writableFinished) killGroup(this.pid);
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

  /** The program's head as the answer's status and headers, then its output as the body, at the pace the client reads. */
  private relay(child: ChildProcessWithoutNullStreams, head: CgiHead): void {
    if (this.answered) return;
    const { res } = this;
    this.status = head.status;
    for (const [name, value] of head.headers) if (!FRAMING.has(name.toLowerCase())) res.appendHeader(name, value);
    // The head leaves as soon as Git gave it, as Git's own server would send it.
    res.writeHead(head.status).flushHeaders();
    child.stdout.on('data', (chunk: Buffer) => {
      this.bytes += chunk.length;
      if (res.write(chunk)) return;
      child.stdout.pause();
      res.once('drain', () => child.stdout.resume());
    });
    child.stdout.resume();
  }

  /** The connection is cut: the client sees a broken transfer, and the process, if alive, is killed. */
  private breakOff(): void {
    this.answered = true;
    this.res.destroy();
    this.req.socket.destroy();
    this.child?.stdout.destroy();
    if (this.pid !== null) killGroup(this.pid);
  }

  /** The answer is whole: its last chunk; the connection stays for the next request, or closes (as the head said). */
  private finish(): void {
    this.answered = true;
    this.res.end();
  }

  /** The program answered nothing usable: the registry's error instead, if the client is still there. */
  private fail(): void {
    if (this.pid !== null) killGroup(this.pid);
    if (this.answered) return;
    if (this.res.headersSent) return this.breakOff();
    this.ownAnswer(this.request.failure);
  }

  /** One of the registry's own answers, which closes the connection (the body may be left unread). */
  private ownAnswer(answer: OwnAnswer): void {
    this.answered = true;
    this.status = answer.status;
    this.res.writeHead(answer.status, { 'Content-Type': answer.type, 'Content-Length': Buffer.byteLength(answer.body), Connection: 'close' });
    this.res.end(answer.body);
  }

  private report(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.reported) return;
    this.reported = true;
    const { stderr, status, bytes, aborted } = this;
    this.events.ended({ code, signal, stderr, status, bytes, aborted });
  }
}

type BodyStart = { length: number | null; start: Buffer; whole: boolean };

/**
 * A POST body's length and first bytes: a body of declared length has its first bytes read, as
 * they first arrive (a Git client sends a short body with its head), the rest left in the stream;
 * a chunked body is read whole. Null when the body is larger than `limit`.
 */
function readStart(req: IncomingMessage, limit: number): Promise<BodyStart | null> {
  const declared = req.headers['content-length'];
  const chunked = declared === undefined;
  const length = chunked ? null : Number(declared);
  if (length !== null && length > limit) return Promise.resolve(null);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (result: BodyStart | null) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onEnd);
      req.pause();
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (chunked && size > limit) settle(null);
      else if (!chunked) settle({ length, start: Buffer.concat(chunks, size), whole: size >= (length ?? 0) });
    };
    const onEnd = () => settle({ length: chunked ? size : length, start: Buffer.concat(chunks, size), whole: true });
    if (req.readableEnded) return onEnd();
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onEnd);
  });
}

/** The request body into the program's stdin: the bytes read first, then the rest of the request as it comes. */
function feedBody(req: IncomingMessage, body: BodyStart, stdin: Writable): void {
  stdin.on('error', () => {});
  if (body.start.length > 0) stdin.write(body.start);
  if (body.whole || req.readableEnded) {
    stdin.end();
    req.resume();
    return;
  }
  req.pipe(stdin);
}
