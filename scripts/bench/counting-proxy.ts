import http from 'node:http';
import type net from 'node:net';
import type { AddressInfo } from 'node:net';

/** What went through a proxy since it started: requests, and bytes on its clients' connections. */
export type ProxyTraffic = { requests: number; received: number; sent: number };

/** One request that went through: method, path and the status answered (0 when the target could not be reached). */
export type ProxiedRequest = { method: string; path: string; status: number };

/** A counting HTTP proxy in front of one server: its URL, what went through it so far, and how to stop it. */
export type CountingProxy = { url: string; traffic(): ProxyTraffic; requests(): readonly ProxiedRequest[]; close(): Promise<void> };

/** Headers of one connection, not of the message: each side of the proxy sets its own. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'expect']);

function endToEnd(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name)));
}

/**
 * An HTTP proxy on 127.0.0.1 that passes every request to `target` unchanged (streamed both
 * ways, end-to-end headers as they are) and counts the requests, and the bytes its clients'
 * connections carried each way (headers and framing included): the same judge for any two
 * servers put behind one. `received` is what the clients received, `sent` what they sent.
 * It answers 502 when the target cannot be reached.
 */
export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const upstream = new URL(target);
  const agent = new http.Agent({ keepAlive: true });
  const open = new Set<net.Socket>();
  const closed = { received: 0, sent: 0 };
  const requests: ProxiedRequest[] = [];
  const server = http.createServer((req, res) => {
    const request = { method: req.method ?? '', path: req.url ?? '', status: 0 };
    requests.push(request);
    const forward = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: endToEnd(req.headers), agent }, (answer) => {
      request.status = answer.statusCode ?? 0;
      res.writeHead(answer.statusCode ?? 502, endToEnd(answer.headers));
      answer.pipe(res);
    });
    forward.on('error', () => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    req.pipe(forward);
  });
  server.on('connection', (socket: net.Socket) => {
    open.add(socket);
    socket.on('close', () => {
      open.delete(socket);
      closed.received += socket.bytesWritten;
      closed.sent += socket.bytesRead;
    });
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    traffic() {
      let { received, sent } = closed;
      for (const socket of open) {
        received += socket.bytesWritten;
        sent += socket.bytesRead;
      }
      return { requests: requests.length, received, sent };
    },
    requests: () => requests,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      agent.destroy();
    },
  };
}
