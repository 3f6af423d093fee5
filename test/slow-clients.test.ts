import test from 'ava';
import net from 'node:net';
import http from 'node:http';
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { startRegistryProcess, type RegistryProcess } from './helpers/process.ts';
import { tempDir } from './helpers/registry.ts';
import { startSmtp } from './helpers/smtp.ts';
import { createIdentity, loggedIn } from './helpers/accounts.ts';

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A raw connection to the registry that records when the server closed it. */
type Raw = { socket: net.Socket; closedAt: Promise<number>; received(): string };

function connect(url: string): Promise<Raw> {
  const { port } = new URL(url);
  const socket = net.connect(Number(port), '127.0.0.1');
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  socket.on('error', () => {});
  const closedAt = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now())));
  return new Promise((resolve) => socket.once('connect', () => resolve({ socket, closedAt, received: () => received })));
}

/** Writes `bytes` one byte every `everyMs` until the socket closes (or they run out). */
function trickle(raw: Raw, bytes: Buffer, everyMs: number): void {
  let at = 0;
  const timer = setInterval(() => {
    if (raw.socket.destroyed || at >= bytes.length) return clearInterval(timer);
    raw.socket.write(bytes.subarray(at, at + 1));
    at++;
  }, everyMs);
  void raw.closedAt.then(() => clearInterval(timer));
}

/** Whether the connection was closed by the server within `ms` from now. */
async function closedWithin(raw: Raw, ms: number): Promise<boolean> {
  return Promise.race([raw.closedAt.then(() => true), settle(ms).then(() => false)]);
}

type LogLine = { event: string; level: string; status?: number; path?: string; stack?: unknown };
const logLines = (registry: RegistryProcess): LogLine[] =>
  registry
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);

async function withPublisher(t: import('ava').ExecutionContext, env: Record<string, string>) {
  const smtp = await startSmtp();
  t.teardown(() => smtp.close());
  const registry = await startRegistryProcess({ REGISTRY_DATA: tempDir(), SMTP_URL: smtp.url, ...env });
  t.teardown(() => registry.stop());
  const token = await loggedIn({ url: registry.url, smtp }, 'slow@example.com');
  await createIdentity({ url: registry.url }, token, 'slow');
  return { registry, token };
}

/** The start of a valid gzip upload, long enough never to run out while trickled. */
const gzipUpload = zlib.gzipSync(crypto.randomBytes(100_000), { level: 0 });

const requestHead = (method: string, path: string, headers: Record<string, string>) =>
  `${method} ${path} HTTP/1.1\r\nHost: localhost\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;

test('trickling clients are closed at the header and request timeouts, aborted requests logged as such, never as a 500', async (t) => {
  const { registry, token } = await withPublisher(t, { HEADERS_TIMEOUT_SECONDS: '1', REQUEST_TIMEOUT_SECONDS: '2', IDLE_TIMEOUT_SECONDS: '30' });
  const started = performance.now();
  const headers = await Promise.all(Array.from({ length: 10 }, () => connect(registry.url)));
  for (const raw of headers) trickle(raw, Buffer.from(requestHead('GET', '/packages', {})), 200);
  const bodies: Raw[] = [];
  for (let i = 0; i < 10; i++) {
    const raw = await connect(registry.url);
    const json = i % 2 === 0;
    raw.socket.write(
      json
        ? requestHead('POST', '/session', { 'Content-Type': 'application/json', 'Content-Length': '1000' })
        : requestHead('PUT', `/packages/slow/pkg${i}/1.0.0`, { Authorization: `Bearer ${token}`, 'Content-Type': 'application/gzip', 'Content-Length': '100000' }),
    );
    trickle(raw, json ? Buffer.from(`{"email":"${'x'.repeat(1000)}`) : gzipUpload, 200);
    bodies.push(raw);
  }
  const closed = await Promise.all([...headers, ...bodies].map((raw) => closedWithin(raw, 10_000)));
  t.deepEqual(closed, closed.map(() => true), 'every trickling connection was closed within 10 s');
  const seconds = (Math.max(...(await Promise.all([...headers, ...bodies].map((raw) => raw.closedAt)))) - started) / 1000;
  t.log(`20 trickling connections all closed ${seconds.toFixed(1)} s after they opened`);
  for (const raw of headers) t.regex(raw.received(), /^(HTTP\/1\.1 408|$)/, 'headers never completed: 408 or nothing');

  await settle(300);
  const lines = logLines(registry);
  t.deepEqual(lines.filter((l) => l.level === 'error' || l.status === 500 || l.stack !== undefined), [], 'no 500, no stack trace');
  const aborted = lines.filter((l) => l.event === 'request_aborted');
  t.is(aborted.length, 10, 'each request that reached the registry and was cut off is one request_aborted line');
  t.is(registry.process.exitCode, null);
  t.is((await fetch(`${registry.url}/healthz`)).status, 200);
});

test('a client that goes away mid-upload or mid-body is logged as request_aborted, not as a failure', async (t) => {
  const { registry, token } = await withPublisher(t, {});
  for (const [head, body] of [
    [requestHead('PUT', '/packages/slow/gone/1.0.0', { Authorization: `Bearer ${token}`, 'Content-Type': 'application/gzip', 'Content-Length': '100000' }), gzipUpload.subarray(0, 5000)],
    [requestHead('POST', '/session', { 'Content-Type': 'application/json', 'Content-Length': '1000' }), Buffer.from('{"email":"x')],
  ] as const) {
    const raw = await connect(registry.url);
    raw.socket.write(head);
    raw.socket.write(body);
    await settle(300);
    raw.socket.destroy();
  }
  await settle(500);
  const lines = logLines(registry);
  t.deepEqual(lines.filter((l) => l.event === 'request_aborted').map((l) => l.path), ['/packages/slow/gone/1.0.0', '/session']);
  t.deepEqual(lines.filter((l) => l.level === 'error' || l.status === 500 || l.stack !== undefined), []);
});

test('a connection on which nothing moves is closed at the idle timeout, a kept-alive one at the keep-alive timeout', async (t) => {
  const { registry } = await withPublisher(t, { IDLE_TIMEOUT_SECONDS: '1', REQUEST_TIMEOUT_SECONDS: '60', KEEP_ALIVE_TIMEOUT_SECONDS: '1' });
  const stalled = await connect(registry.url);
  stalled.socket.write(requestHead('POST', '/session', { 'Content-Type': 'application/json', 'Content-Length': '1000' }) + '{"em');
  const kept = await connect(registry.url);
  kept.socket.write(requestHead('GET', '/healthz', {}));
  t.true(await closedWithin(stalled, 5000), 'a body that stalls is cut off long before the 60 s request timeout');
  t.true(await closedWithin(kept, 5000), 'an idle kept-alive connection is closed');
  t.regex(kept.received(), /^HTTP\/1\.1 200/);
});

test('past MAX_CONNECTIONS new connections are closed at once; the registry serves again once some close', async (t) => {
  const { registry } = await withPublisher(t, { MAX_CONNECTIONS: '5', HEADERS_TIMEOUT_SECONDS: '60', REQUEST_TIMEOUT_SECONDS: '60' });
  await settle(200);
  const held = await Promise.all(Array.from({ length: 5 }, () => connect(registry.url)));
  for (const raw of held) raw.socket.write('GET /packages HTTP/1.1\r\n');
  await settle(200);
  const extra = await connect(registry.url);
  extra.socket.write(requestHead('GET', '/healthz', {}));
  t.true(await closedWithin(extra, 2000), 'the sixth connection is closed');
  t.is(extra.received(), '', 'without an answer');
  for (const raw of held) raw.socket.destroy();
  await settle(200);
  t.is((await fetch(`${registry.url}/healthz`)).status, 200);
});

test('SIGTERM closes idle connections at once and a slow client after the grace period, then exits 0', async (t) => {
  const { registry, token } = await withPublisher(t, { SHUTDOWN_GRACE_SECONDS: '2', IDLE_TIMEOUT_SECONDS: '60', REQUEST_TIMEOUT_SECONDS: '120', KEEP_ALIVE_TIMEOUT_SECONDS: '60' });
  const idle = await connect(registry.url);
  idle.socket.write(requestHead('GET', '/healthz', {}));
  await settle(200);
  t.regex(idle.received(), /^HTTP\/1\.1 200/);
  const slow = await connect(registry.url);
  slow.socket.write(requestHead('PUT', '/packages/slow/pkg/1.0.0', { Authorization: `Bearer ${token}`, 'Content-Type': 'application/gzip', 'Content-Length': '100000' }));
  trickle(slow, gzipUpload, 200);
  await settle(500);

  const signalled = performance.now();
  registry.process.kill('SIGTERM');
  t.true(await closedWithin(idle, 1000), 'the idle kept-alive connection is closed at once');
  const exited = await Promise.race([registry.exited, settle(15_000).then(() => null)]);
  const seconds = (performance.now() - signalled) / 1000;
  t.is(exited?.code, 0, `exited within 15 s of SIGTERM (${seconds.toFixed(1)} s)`);
  t.true(seconds >= 1.5 && seconds < 8, `exited ${seconds.toFixed(1)} s after SIGTERM: the slow client had its 2 s of grace, then was closed`);
  const lines = logLines(registry);
  t.like(lines.find((l) => l.event === 'request_aborted'), { path: '/packages/slow/pkg/1.0.0' });
  t.deepEqual(lines.filter((l) => l.level === 'error'), []);
  t.is(lines.at(-1)?.event, 'closed');
});

test('SIGTERM still lets a request that finishes within the grace period be answered', async (t) => {
  const { registry } = await withPublisher(t, { SHUTDOWN_GRACE_SECONDS: '10' });
  const answer = new Promise<number>((resolve, reject) => {
    const req = http.request(`${registry.url}/session`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': '2' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.write('{');
    void settle(1000).then(() => req.end('}'));
  });
  await settle(300);
  registry.process.kill('SIGTERM');
  t.is(await answer, 400, 'answered (an empty login request), not cut off');
  t.is((await registry.exited).code, 0);
});
