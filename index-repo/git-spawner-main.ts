// The Git spawner: a small process of its own, started by the registry (git-spawner.ts), that
// answers Git's requests on their clients' connections. The registry decides (the route, who may
// read, the bounds), then hands the connection over with its first request; from there this
// process reads the request with Node's HTTP parser, forks `git http-backend`, feeds it the body,
// and writes its answer (git-answer.ts). A Git client's next requests on the connection, for the
// same repository with the same credentials, are answered here too (upload-pack.ts). So the
// registry's event loop, busy with publishes, is not on a clone's way, and a fork here copies a
// small process's page tables, not the registry's. A Git process that builds a pack runs at a
// lower CPU priority (`nice`); one that lists refs, and this process, keep the registry's.
//
// Control goes over the IPC channel (advanced serialization, so that bytes stay bytes):
// `{type: "serve", id, session, bytes}` with the connection's handle (`bytes`: its first request,
// head and the body read so far) and `{type: "stop", id}` in; `{type: "started", id, pid}`,
// `{type: "answered", id, first, method, path, service, ms, ...AnswerEnd}` for each request, and
// `{type: "ended", id}` once the connection is closed, out.
import http from 'node:http';
import net from 'node:net';
import { answer, type Answer, type AnswerEnd } from './git-answer.ts';
import { cgiEnvironment, FOLLOW_UP_MS, GIT_BODY_LIMIT, listsRefsOnly, REQUESTS_PER_CONNECTION, sessionService, type Service } from './upload-pack.ts';
import type { SpawnerSession } from './git-spawner.ts';

type Serve = { type: 'serve'; id: string; session: SpawnerSession; bytes: Uint8Array };
type Stop = { type: 'stop'; id: string };

type Connection = {
  id: string;
  session: SpawnerSession;
  socket: net.Socket;
  requests: number;
  current: Answer | null;
  /** Whether the connection has closed: its end is reported once its answer, if any, has been. */
  closed: boolean;
  waiting: Array<[http.IncomingMessage, http.ServerResponse]>;
};

const connections = new Map<string, Connection>();
const bySocket = new WeakMap<net.Socket, Connection>();

// Parses the requests of the connections handed over; it listens on nothing itself.
const server = http.createServer({ keepAliveTimeout: FOLLOW_UP_MS, keepAliveTimeoutBuffer: 0, requestTimeout: 0 }, (req, res) => {
  const connection = bySocket.get(req.socket);
  if (!connection) return req.socket.destroy();
  connection.waiting.push([req, res]);
  if (connection.current === null) next(connection);
});
server.on('clientError', (_err, socket) => socket.destroy());

/**
 * What to exec: the program under `nice -n`, so that it and everything it forks (upload-pack,
 * pack-objects) start at the lower priority. (`os.setPriority` on the new pid would race with
 * Git's own first fork.)
 */
function command(file: string, args: string[], niceness: number): [string, string[]] {
  return niceness === 0 ? [file, args] : ['nice', ['-n', String(niceness), file, ...args]];
}

/** Whether a request after the first may be answered here: the same credentials, and room left on the connection. */
function mayFollow(connection: Connection, req: http.IncomingMessage): boolean {
  const { session } = connection;
  return session.keepAlive && connection.requests <= REQUESTS_PER_CONNECTION && (req.headers.authorization ?? null) === session.authorization;
}

/**
 * Answers the connection's next request, one at a time: its first (the one the registry routed),
 * or one that follows it for the same repository. Anything else closes the connection unanswered.
 */
function next(connection: Connection): void {
  const waiting = connection.waiting.shift();
  if (!waiting) return;
  const [req, res] = waiting;
  const { id, session } = connection;
  const first = connection.requests === 0;
  connection.requests++;
  const service = sessionService(session, req.method ?? '', req.url ?? '');
  if (service === null || (!first && !mayFollow(connection, req))) {
    connection.socket.destroy();
    return;
  }
  const started = performance.now();
  const path = (req.url ?? '').split('?')[0] as string;
  connection.current = answer(
    {
      program: (contentLength, start) => {
        const niceness = listsRefsOnly(session.view, service, req.headers, start) ? 0 : session.niceness;
        const [file, args] = command('git', ['http-backend'], niceness);
        return { file, args, env: { PATH: session.path, ...cgiEnvironment(session.view, service, req.headers, contentLength) } };
      },
      bodyLimit: GIT_BODY_LIMIT,
      failure: session.failure,
      tooLarge: session.tooLarge,
      keepAlive: session.keepAlive && connection.requests < REQUESTS_PER_CONNECTION,
    },
    req,
    res,
    {
      started: (pid) => process.send?.({ type: 'started', id, pid }),
      ended: (end: AnswerEnd) => {
        connection.current = null;
        const ms = performance.now() - started;
        const report: { type: 'answered'; id: string; first: boolean; method: string; path: string; service: Service; ms: number } & AnswerEnd = { type: 'answered', id, first, method: req.method ?? '', path, service, ms, ...end };
        process.send?.(report);
        if (connection.closed) process.send?.({ type: 'ended', id });
        else next(connection);
      },
    },
  );
}

function serve(message: Serve, handle: unknown): void {
  const { id, session, bytes } = message;
  if (!handle) {
    process.send?.({ type: 'ended', id });
    return;
  }
  // The handle of a TCP connection, made a socket as Node makes one of a socket it is sent; the
  // first request's bytes go back in front of what the connection has still to deliver.
  const socket = new net.Socket({ handle, readable: true, writable: true } as net.SocketConstructorOpts);
  const connection: Connection = { id, session, socket, requests: 0, current: null, closed: false, waiting: [] };
  connections.set(id, connection);
  bySocket.set(socket, connection);
  socket.once('close', () => {
    connections.delete(id);
    connection.closed = true;
    // An answer under way sees its client leave by itself, and reports; the end follows it.
    if (connection.current === null) process.send?.({ type: 'ended', id });
  });
  socket.unshift(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  server.emit('connection', socket);
}

process.on('message', (message: Serve | Stop, handle: unknown) => {
  if (message.type === 'stop') {
    const connection = connections.get(message.id);
    connection?.current?.stop();
    connection?.socket.destroy();
  } else if (message.type === 'serve') serve(message, handle);
});

// The registry gone, nothing is left to answer for: every answer is cut, its processes killed.
process.on('disconnect', () => {
  for (const connection of connections.values()) {
    connection.current?.stop();
    connection.socket.destroy();
  }
  process.exit(0);
});

process.send?.({ type: 'ready' });
