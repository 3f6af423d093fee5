import http from 'node:http';
import crypto from 'node:crypto';
import type { AddressInfo } from 'node:net';

/** One request as the receiver got it. */
export type Received = { method: string; path: string; headers: http.IncomingHttpHeaders; body: string; at: number; status: number | 'hang' };

export type Receiver = {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  port: number;
  received: Received[];
  /** The status to answer each request with (default: 200); may be changed at any time. */
  answer: (req: Received) => number | 'hang';
  /** Waits until `count` requests matched `where`, up to `timeoutMs`; answers them. */
  waitFor(where: (r: Received) => boolean, count?: number, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
};

/** A real HTTP server standing for the documentation site and webhook targets. */
export async function startReceiver(port = 0): Promise<Receiver> {
  const received: Received[] = [];
  const hanging = new Set<http.ServerResponse>();
  const receiver: Receiver = {
    url: '',
    port: 0,
    received,
    answer: () => 200,
    async waitFor(where, count = 1, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const matching = received.filter(where);
        if (matching.length >= count) return matching;
        if (Date.now() > deadline) throw new Error(`Expected ${count} matching requests within ${timeoutMs} ms, got ${matching.length} of ${received.length}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request: Received = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now(), status: 200 };
      received.push(request);
      const status = receiver.answer(request);
      request.status = status;
      if (status === 'hang') {
        hanging.add(res);
        return;
      }
      res.statusCode = status;
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  receiver.port = (server.address() as AddressInfo).port;
  receiver.url = `http://127.0.0.1:${receiver.port}`;
  return receiver;
}

/** Checks `X-Registry-Signature` as a webhook receiver would: HMAC-SHA256 of the body, compared in constant time. */
export function signatureHolds(request: Received, secret: string): boolean {
  const header = request.headers['x-registry-signature'];
  if (typeof header !== 'string' || !header.startsWith('sha256=')) return false;
  const expected = crypto.createHmac('sha256', secret).update(request.body).digest();
  const given = Buffer.from(header.slice('sha256='.length), 'hex');
  return given.length === expected.length && crypto.timingSafeEqual(given, expected);
}
