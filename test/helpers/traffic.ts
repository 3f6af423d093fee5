import type http from 'node:http';
import type net from 'node:net';

/** What a server answered from a moment on: requests (by method and path, query included) and bytes written to clients. */
export type Traffic = { requests: () => string[]; bytes: () => number; reset: () => void };

/** Counts the requests a server receives and the bytes its sockets write, from now on (see `reset`). */
export function countTraffic(server: http.Server): Traffic {
  let requests: string[] = [];
  const sockets = new Map<net.Socket, number>();
  server.prependListener('request', (req: http.IncomingMessage) => {
    requests.push(`${req.method} ${req.url}`);
    if (!sockets.has(req.socket)) sockets.set(req.socket, req.socket.bytesWritten);
  });
  return {
    requests: () => requests,
    bytes: () => [...sockets].reduce((sum, [socket, before]) => sum + socket.bytesWritten - before, 0),
    reset() {
      requests = [];
      sockets.clear();
    },
  };
}
