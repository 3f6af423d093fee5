import http from 'node:http';
import type { ServerLimits } from './config.ts';
import type { Logger } from './log.ts';

/**
 * Connections the server handed to another process to answer (Git's, to the spawner): no longer
 * the server's, but a shutdown gives them the same grace as its own.
 */
export type HandedOff = { settled(): Promise<void>; stop(): void };

export type HttpServer = {
  server: http.Server;
  /**
   * Stops accepting connections, closes idle ones at once and each busy one as soon as its
   * request is answered; after the grace period, closes whatever is left and stops what was
   * handed off. Resolves once every connection is closed and every handed-off one settled.
   */
  shutdown(handedOff?: HandedOff): Promise<void>;
};

/** How often Node checks the header and request timeouts of open connections. */
const checkEveryMs = 1000;
/** How often, during a shutdown, connections that became idle are closed. */
const sweepEveryMs = 100;
/** Refused connections are logged at most this often, as one line with their count. */
const dropLogEveryMs = 10_000;

/**
 * The HTTP server with the limits that bound slow and numerous clients: a connection must
 * send its headers within `headersTimeoutMs` and its whole request within `requestTimeoutMs`
 * (Node answers 408 and closes it otherwise), is closed after `idleTimeoutMs` without
 * traffic either way, or `keepAliveTimeoutMs` idle between requests; past `maxConnections`
 * new connections are closed as they arrive.
 */
export function createHttpServer(limits: ServerLimits, log: Logger, handle: http.RequestListener): HttpServer {
  let closing = false;
  const server = http.createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: Math.min(checkEveryMs, limits.headersTimeoutMs),
    },
    (req, res) => {
      // While shutting down, no answer invites another request on its connection.
      if (closing) res.setHeader('Connection', 'close');
      handle(req, res);
    },
  );
  server.timeout = limits.idleTimeoutMs;
  server.maxConnections = limits.maxConnections;
  logDrops(server, log, limits.maxConnections);
  return {
    server,
    shutdown(handedOff) {
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const sweep = setInterval(() => server.closeIdleConnections(), sweepEveryMs);
      const deadline = setTimeout(() => {
        log.warn('connections_closed', { reason: 'shutdown grace period over', graceMs: limits.shutdownGraceMs });
        server.closeAllConnections();
        handedOff?.stop();
      }, limits.shutdownGraceMs);
      // Once the server's own connections are closed, none can be handed off any more.
      const settled = closed.then(() => handedOff?.settled());
      return settled.finally(() => {
        clearInterval(sweep);
        clearTimeout(deadline);
      });
    },
  };
}

/** One log line per burst of refused connections (at most one every 10 s), never one per connection. */
function logDrops(server: http.Server, log: Logger, maxConnections: number): void {
  let dropped = 0;
  let timer: NodeJS.Timeout | null = null;
  server.on('drop', () => {
    dropped++;
    timer ??= setTimeout(() => {
      log.warn('connections_refused', { count: dropped, maxConnections });
      dropped = 0;
      timer = null;
    }, dropLogEveryMs).unref();
  });
}
