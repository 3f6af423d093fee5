import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MetricsListener } from './config.ts';
import { describeError, type Logger } from './log.ts';
import type { Metrics } from './metrics.ts';
import { fail, type ApiError } from './errors.ts';

export type MetricsServer = {
  /** Where the metrics are, such as http://127.0.0.1:9464/metrics. */
  url: string;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
};

/** A scraper is a program on a private network: it sends a short request and reads the answer at once. */
const limits = { headersTimeoutMs: 10_000, idleTimeoutMs: 30_000, maxConnections: 64 };

/**
 * `GET /metrics` in Prometheus' text format, on a listener of its own, apart from the public
 * port, so that the metrics are reachable only where the operator binds it. Any other path is
 * `404 not_found`, any other method `405 method_not_allowed`. Scrapes are neither logged nor
 * counted.
 */
export function listenMetrics(deps: { listener: MetricsListener; metrics: Metrics; log: Logger }): Promise<MetricsServer> {
  const { listener, metrics, log } = deps;
  const server = http.createServer({ headersTimeout: limits.headersTimeoutMs, requestTimeout: limits.headersTimeoutMs }, (req, res) => {
    void answer(req, res);
  });
  server.timeout = limits.idleTimeoutMs;
  server.maxConnections = limits.maxConnections;

  const answer = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = req.url ?? '';
    const query = url.indexOf('?');
    if ((query === -1 ? url : url.slice(0, query)) !== '/metrics') return refuse(res, fail('not_found', 'Only /metrics is served here.'));
    if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(res, fail('method_not_allowed', 'The metrics are read with GET.'));
    let text: string;
    try {
      text = await metrics.exposition();
    } catch (err) {
      log.error('metrics_failed', describeError(err));
      return refuse(res, fail('internal'));
    }
    res.writeHead(200, { 'Content-Type': metrics.contentType, 'Cache-Control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : text);
  };

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listener.port, listener.host, () => {
      const { port } = server.address() as AddressInfo;
      const url = `http://${listener.host.includes(':') ? `[${listener.host}]` : listener.host}:${port}/metrics`;
      log.info('metrics_listening', { host: listener.host, port });
      resolve({
        url,
        close: () =>
          new Promise<void>((closed) => {
            server.close(() => closed());
            server.closeAllConnections();
          }),
      });
    });
  });
}

function refuse(res: http.ServerResponse, error: ApiError): void {
  res.writeHead(error.status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(JSON.stringify(error.body));
}
