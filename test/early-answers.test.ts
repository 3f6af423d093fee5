import test from 'ava';
import http from 'node:http';
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { startRegistryProcess, type RegistryProcess } from './helpers/process.ts';
import { tempDir } from './helpers/registry.ts';
import { startSmtp, type TestSmtp } from './helpers/smtp.ts';
import { createIdentity, loggedIn } from './helpers/accounts.ts';

// The registry runs as its own process, as in production: answers and closes race the client's writes.
let smtp: TestSmtp;
let registry: RegistryProcess;
let owner: string;
let stranger: string;
test.before(async () => {
  smtp = await startSmtp();
  registry = await startRegistryProcess({ REGISTRY_DATA: tempDir(), SMTP_URL: smtp.url });
  owner = await loggedIn({ url: registry.url, smtp }, 'owner@example.com');
  await createIdentity({ url: registry.url }, owner, 'acme');
  stranger = await loggedIn({ url: registry.url, smtp }, 'stranger@example.com');
});
test.after.always(async () => {
  await registry?.stop();
  await smtp?.close();
});

/** What a client made of one request: the answer's status and error code, or how it failed. */
type Outcome = { status: number; error: string } | { failed: string };
type Send = (method: string, path: string, headers: Record<string, string>, body: Buffer) => Promise<Outcome>;

const errorOf = (text: string) => String((JSON.parse(text || '{}') as { error?: unknown }).error);

/**
 * Node's own `http` client writing the whole body at once, as the gren tools do; with
 * `agent: false` it asks for `Connection: close`, so the server closes once it has answered.
 */
const nodeHttp = (agent: false | undefined): Send => (method, path, headers, body) =>
  new Promise((resolve) => {
    const req = http.request(`${registry.url}${path}`, { method, agent, headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, error: errorOf(Buffer.concat(chunks).toString()) }));
      res.on('error', (err) => resolve({ failed: err.message }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ failed: err.code ?? err.message }));
    req.end(body);
  });

const viaFetch: Send = async (method, path, headers, body) => {
  try {
    const res = await fetch(`${registry.url}${path}`, { method, headers, body });
    return { status: res.status, error: errorOf(await res.text()) };
  } catch (err) {
    return { failed: String((err as Error).cause ?? err) };
  }
};

const clients: Array<[string, Send]> = [
  ['node http (Connection: close)', nodeHttp(false)],
  ['node http (keep-alive agent)', nodeHttp(undefined)],
  ['fetch', viaFetch],
];

const upload = (token: string | null, type = 'application/gzip'): Record<string, string> => ({
  'content-type': type,
  ...(token === null ? {} : { authorization: `Bearer ${token}` }),
});

const eleven = crypto.randomBytes(11 * 1024 * 1024);

for (const [client, send] of clients) {
  test.serial(`${client}: an 11 MiB bundle answered early is read, 8 times in 8 (413, 403, 401, 415)`, async (t) => {
    const cases: Array<[Record<string, string>, number, string]> = [
      [upload(owner), 413, 'too_large'],
      [upload(stranger), 403, 'forbidden'],
      [upload(null), 401, 'unauthorized'],
      [upload(owner, 'text/plain'), 415, 'unsupported_media_type'],
    ];
    for (const [headers, status, error] of cases) {
      const outcomes: Outcome[] = [];
      for (let i = 0; i < 8; i++) outcomes.push(await send('PUT', '/packages/acme/huge/1.0.0', headers, eleven));
      t.deepEqual(outcomes, outcomes.map(() => ({ status, error })), `${status} ${error}`);
    }
  });
}

test.serial('24 oversized 4 MiB JSON bodies at once all get 413, twice over', async (t) => {
  const body = Buffer.from(JSON.stringify({ email: 'x'.repeat(4 * 1024 * 1024) }));
  const json = { 'content-type': 'application/json' };
  for (let round = 0; round < 2; round++) {
    const outcomes = await Promise.all(Array.from({ length: 24 }, (_, i) => (clients[i % 3] as [string, Send])[1]('POST', '/session', json, body)));
    t.deepEqual(outcomes, outcomes.map(() => ({ status: 413, error: 'too_large' })));
  }
});

/** Node's `http` client sending `body` chunked (no declared length), so the registry stops while reading. */
function chunked(method: string, path: string, headers: Record<string, string>, body: Buffer): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = http.request(`${registry.url}${path}`, { method, agent: false, headers: { ...headers, 'transfer-encoding': 'chunked' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, error: errorOf(Buffer.concat(chunks).toString()) }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ failed: err.code ?? err.message }));
    for (let at = 0; at < body.length; at += 256 * 1024) req.write(body.subarray(at, at + 256 * 1024));
    req.end();
  });
}

test.serial('refused while reading a chunked body (past 10 MiB of bundle, past 64 KiB of JSON): the answer is read', async (t) => {
  const gzip = zlib.gzipSync(crypto.randomBytes(12 * 1024 * 1024), { level: 0 });
  const json = Buffer.from(JSON.stringify({ email: 'x'.repeat(1024 * 1024) }));
  for (let i = 0; i < 4; i++) {
    t.deepEqual(await chunked('PUT', '/packages/acme/huge/1.0.0', upload(owner), gzip), { status: 413, error: 'too_large' });
    t.deepEqual(await chunked('POST', '/session', { 'content-type': 'application/json' }, json), { status: 413, error: 'too_large' });
  }
});
