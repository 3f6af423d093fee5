import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import type { Logger } from './log.ts';
import type { MetricsListener, ServerLimits } from './config.ts';
import { createHttpServer, type HandedOff, type HttpServer } from './http-server.ts';
import type { Metrics } from './metrics.ts';
import { listenMetrics, type MetricsServer } from './metrics-server.ts';

/** A Koa app behind the registry's HTTP server, listening and closing as one. */
export type AppServer = {
  /** Listens on the configured host and port (port 0: any free port). */
  listen(): Promise<{ url: string; port: number }>;
  /** The HTTP server once listening. */
  server(): http.Server | null;
  /** The URL of `GET /metrics` once listening, on its own port; null when METRICS_PORT is unset. */
  metricsUrl(): string | null;
  /**
   * Stops taking requests, lets those in flight finish (closing their connections after the
   * shutdown grace period), then runs `closers` in order. Runs once, however often called.
   */
  close(): Promise<void>;
};

export type AppServerParts = {
  settings: { port: number; host: string; server: ServerLimits; metrics: MetricsListener | null };
  log: Logger;
  /** Counts refused connections, and is served on `settings.metrics` when set. */
  metrics: Metrics;
  app: Koa;
  /** Answers a request before Koa (the index's ready files), or returns false to let the app answer. */
  fastPath: (req: http.IncomingMessage, res: http.ServerResponse) => boolean;
  /** Fields of the `listening` log line, beside the host and port. */
  listening: Record<string, unknown>;
  /** Runs first when closing, before the connections are: to release what holds requests open. */
  beforeShutdown?: () => void;
  /** Connections handed to another process (Git's): closing waits for them as for its own, within the grace period. */
  handedOff?: HandedOff;
  /** Closes the state the app uses, in order, once no handler runs. */
  closers: Array<() => Promise<void> | void>;
};

/** After its connections are closed, how long a shutdown waits for the handlers still running (a body cut off mid-read) to finish. */
const HANDLERS_SETTLE_MS = 2000;

/** Serves `app` with the registry's HTTP server: the fast path first, the bounds of `settings.server`, a graceful close. */
export function serveApp(parts: AppServerParts): AppServer {
  const { settings, log, app } = parts;
  let http: HttpServer | null = null;
  let metricsServer: MetricsServer | null = null;
  let closing: Promise<void> | null = null;
  // Handlers running now: closing waits for them, so that none outlives the state it uses.
  const running = new Set<Promise<void>>();
  return {
    server: () => http?.server ?? null,
    metricsUrl: () => metricsServer?.url ?? null,
    async listen() {
      const listening = await listenPublic();
      if (settings.metrics) metricsServer = await listenMetrics({ listener: settings.metrics, metrics: parts.metrics, log });
      return listening;
    },
    close() {
      closing ??= (async () => {
        await metricsServer?.close();
        parts.beforeShutdown?.();
        if (http) await http.shutdown(parts.handedOff);
        // A handler whose connection the shutdown cut finishes (and logs its request as aborted) before the state closes.
        await Promise.race([Promise.allSettled([...running]), new Promise((resolve) => setTimeout(resolve, HANDLERS_SETTLE_MS).unref())]);
        for (const close of parts.closers) await close();
        log.info('closed', {});
      })();
      return closing;
    },
  };

  /** The public port: the fast path, then the app. */
  function listenPublic(): Promise<{ url: string; port: number }> {
    const handle = app.callback();
    http = createHttpServer(settings.server, log, (req, res) => {
      if (parts.fastPath(req, res)) return;
      const handled = handle(req, res).finally(() => running.delete(handled));
      running.add(handled);
    });
    const listening = http.server;
    listening.on('drop', () => parts.metrics.refused('connections'));
    return new Promise((resolve, reject) => {
      listening.once('error', reject);
      listening.listen(settings.port, settings.host, () => {
        const { port } = listening.address() as AddressInfo;
        log.info('listening', { host: settings.host, port, ...parts.listening });
        resolve({ url: `http://${settings.host}:${port}`, port });
      });
    });
  }
}
