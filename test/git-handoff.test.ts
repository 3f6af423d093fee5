import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { tempDir } from './helpers/registry.ts';
import { gitClient, remoteRefs } from './helpers/git.ts';
import { hangingFetch, onHandover, servingProcesses, servingRegistry, waitUntil } from './helpers/git-serving.ts';
import type { MailRegistry } from './helpers/accounts.ts';
import type { GitProcesses } from '../index-repo/git-processes.ts';
import { dechunk, exchange, head, pkt } from './helpers/raw-http.ts';

const run = promisify(execFile);
const served = '/git/acme/served.git';

/** A protocol v0 fetch of `commit`: what `git clone --depth 1` sends last, without capabilities (so the pack comes unframed). */
const wantBody = (commit: string) => `${pkt(`want ${commit}\n`)}0000${pkt('done\n')}`;

/** The commit of tag 1.0.0 of the served package, as Git lists it. */
async function servedCommit(reg: MailRegistry): Promise<string> {
  const listed = await gitClient(['ls-remote', `${reg.url}${served}`]);
  return remoteRefs(listed.stdout).get('refs/tags/1.0.0') as string;
}

/** Holds the registry's event loop for `ms`, as a long synchronous task would. */
function busyWait(ms: number): { from: number; to: number } {
  const from = Date.now();
  while (Date.now() - from < ms) {
    // Nothing else runs in this process meanwhile.
  }
  return { from, to: Date.now() };
}

/**
 * Has the registry's event loop stand still for `ms` right after each connection is handed to
 * the spawner: what a burst of publishes does to it, at its worst. Answers when it stood still.
 */
function blockAfterHandover(git: GitProcesses, ms: number): Array<{ from: number; to: number }> {
  const blocks: Array<{ from: number; to: number }> = [];
  // In the check phase: after the handle has been sent, this same turn.
  onHandover(git, () => setImmediate(() => blocks.push(busyWait(ms))));
  return blocks;
}

/** The request log's lines of Git requests. */
const gitLines = (reg: MailRegistry) => reg.log.lines.filter((l) => (l.event === 'request' || l.event === 'request_aborted') && String(l.path).startsWith('/git/'));

function noErrors(t: ExecutionContext, reg: MailRegistry): void {
  const errors = reg.log.lines.filter((l) => l.level === 'error');
  t.deepEqual(errors, [], JSON.stringify(errors));
}

for (const protocol of ['0', '2']) {
  test.serial(`a clone completes while the registry's event loop stands still, once its first request is handed over, protocol v${protocol}`, async (t) => {
    const { reg } = await servingRegistry(t, {}, 200_000);
    // The spawner is started on the first request: here, before the clone.
    t.is((await gitClient(['ls-remote', `${reg.url}${served}`])).code, 0);
    const logged = gitLines(reg).length;
    const blocks = blockAfterHandover(reg.registry.deps.git, 2000);
    const dir = path.join(tempDir(), 'clone');
    const stamp = path.join(tempDir(), 'stamp');
    // The clone writes when it finished; this process, standing still, could not tell.
    await run('sh', ['-c', 'git -c protocol.version="$1" clone --quiet --depth 1 --branch 1.0.0 "$2" "$3" && date +%s%3N > "$4"', 'sh', protocol, `${reg.url}${served}`, dir, stamp], { env: { ...process.env, GIT_TERMINAL_PROMPT: '0' } });
    const finished = Number(fs.readFileSync(stamp, 'utf8'));
    // Its next requests came on the same connection, and the spawner answered them.
    t.is(blocks.length, 1, 'one connection was handed over');
    const [block] = blocks as [{ from: number; to: number }];
    t.log(`the loop stood still ${block.to - block.from} ms; the clone finished ${finished - block.from} ms into it`);
    t.true(finished >= block.from && finished < block.to, `finished at ${finished}, the loop stood still from ${block.from} to ${block.to}`);
    t.true(fs.existsSync(path.join(dir, 'gren.json')));
    t.true(fs.readFileSync(path.join(dir, 'src', 'Padding.gren'), 'utf8').length > 200_000);
    // Every request is logged once, with the status sent: the first by the app, the others as the spawner reported them.
    const lines = () => gitLines(reg).slice(logged);
    await waitUntil(t, 'the requests are logged', () => lines().some((l) => l.method === 'GET') && lines().filter((l) => l.method === 'POST').length >= (protocol === '2' ? 2 : 1));
    t.true(lines().every((l) => l.event === 'request' && l.status === 200), JSON.stringify(lines()));
    t.is(lines().filter((l) => l.method === 'GET').length, 1);
    noErrors(t, reg);
  });
}

test.serial('a client that leaves mid-transfer has its Git process group killed, and its request logged as aborted', async (t) => {
  const { reg } = await servingRegistry(t, {}, 6_000_000);
  const commit = await servedCommit(reg);
  const request = http.request(`${reg.url}${served}/git-upload-pack`, { method: 'POST', headers: { 'content-type': 'application/x-git-upload-pack-request' } });
  request.on('error', () => {});
  request.end(wantBody(commit));
  const response = await new Promise<http.IncomingMessage>((resolve) => request.once('response', resolve));
  t.is(response.statusCode, 200);
  t.is(response.headers.connection, 'close');
  // The pack has begun to arrive; it is far from whole (the client reads no more of it).
  await new Promise((resolve) => response.once('data', resolve));
  response.pause();
  t.is(servingProcesses().length, 1);
  request.destroy();
  const ms = await waitUntil(t, 'the process group is gone', () => servingProcesses().length === 0);
  t.log(`gone ${ms.toFixed(0)} ms after the client left`);
  await waitUntil(t, 'the slot is free', () => reg.registry.deps.git.counts().running === 0);
  await waitUntil(t, 'the stop is logged', () => reg.log.lines.some((l) => l.event === 'git_stopped' && l.reason === 'aborted'));
  await waitUntil(t, 'the request is logged', () => gitLines(reg).some((l) => l.method === 'POST'));
  // (Its ls-remote before made one of protocol v2's POSTs.)
  t.is(gitLines(reg).filter((l) => l.method === 'POST').at(-1)?.event, 'request_aborted');
  noErrors(t, reg);
});

test.serial("Git's own status reaches the client and the request log (whose call counts the metrics)", async (t) => {
  const { reg } = await servingRegistry(t, {});
  const res = await fetch(`${reg.url}${served}/git-upload-pack`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '0000' });
  t.is(res.status, 415);
  await res.arrayBuffer();
  await waitUntil(t, 'the request is logged', () => gitLines(reg).length === 1);
  t.like(gitLines(reg)[0], { event: 'request', path: `${served}/git-upload-pack`, status: 415 });
  noErrors(t, reg);
});

/** The connections the registry's HTTP server counts as its own. */
function connections(reg: MailRegistry): Promise<number> {
  const server = reg.registry.server() as http.Server;
  return new Promise((resolve, reject) => server.getConnections((err, count) => (err ? reject(err) : resolve(count))));
}

test.serial('a kept-alive client gets every answer: a Git one closes the connection, the next request comes on a new one', async (t) => {
  const { reg } = await servingRegistry(t, {});
  const before = await connections(reg);
  const out = await run('curl', ['-sv', `${reg.url}${served}/info/refs?service=git-upload-pack`, `${reg.url}/index/config.json`]);
  t.true(out.stdout.includes('# service=git-upload-pack'), out.stdout);
  t.true(out.stdout.includes('refs/tags/1.0.0'));
  t.true(out.stdout.trimEnd().endsWith('}'), 'config.json follows');
  t.regex(out.stderr, /< Connection: close/i);
  t.is(out.stderr.match(/< HTTP\/1\.1 200/g)?.length, 2);
  t.is(out.stderr.match(/Connected to/g)?.length, 2);
  // The server no longer counts the connection it handed over (curl's second one has closed).
  let now = before + 1;
  await waitUntil(t, 'the handed-over connection is not counted', () => {
    void connections(reg).then((count) => (now = count));
    return now <= before;
  });
  noErrors(t, reg);
});

test.serial('pipelined requests: the Git answer is whole and gets exactly its body; what follows it is left unanswered, and the client asks again', async (t) => {
  const { reg } = await servingRegistry(t, {});
  const commit = await servedCommit(reg);
  const body = wantBody(commit);
  const next = `GET /index/config.json HTTP/1.1\r\nHost: x\r\n\r\n`;
  const post = `POST ${served}/git-upload-pack HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-git-upload-pack-request\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  const answer = head(await exchange(reg.url, post + next));
  t.is(answer.status, 'HTTP/1.1 200 OK');
  t.is(answer.headers.get('connection'), 'close');
  t.is(answer.headers.get('transfer-encoding'), 'chunked');
  const { data, whole } = dechunk(answer.body);
  t.true(whole, 'the answer ends with its last chunk');
  t.true(data.subarray(0, 8).equals(Buffer.from(pkt('NAK\n'))), data.subarray(0, 16).toString('latin1'));
  t.is(data.subarray(8, 12).toString('latin1'), 'PACK');
  // The request after it, asked again on a new connection, is answered.
  t.is((await fetch(`${reg.url}/index/config.json`)).status, 200);
  // The same with the advertisement first, its request without a body.
  const advertised = head(await exchange(reg.url, `GET ${served}/info/refs?service=git-upload-pack HTTP/1.1\r\nHost: x\r\n\r\n${next}`));
  t.is(advertised.status, 'HTTP/1.1 200 OK');
  t.true(dechunk(advertised.body).data.includes('refs/tags/1.0.0'));
  noErrors(t, reg);
});

test.serial('a Git request pipelined behind another waits for that answer to be sent whole before its connection is handed over', async (t) => {
  // More than the kernel's buffers hold for a client that reads nothing (about 4 MB here).
  const { reg } = await servingRegistry(t, {}, 6_000_000);
  const bundlePath = '/index/packages/acme/served/1.0.0/bundle.pkg.gz';
  const bundle = Buffer.from(await (await fetch(`${reg.url}${bundlePath}`)).arrayBuffer());
  t.true(bundle.length > 6_000_000);
  // The client reads nothing for a while: the bundle cannot all be sent before the Git request is routed.
  const answers = await exchange(reg.url, `GET ${bundlePath} HTTP/1.1\r\nHost: x\r\n\r\nGET ${served}/info/refs?service=git-upload-pack HTTP/1.1\r\nHost: x\r\n\r\n`, 500);
  const first = head(answers);
  t.is(first.status, 'HTTP/1.1 200 OK');
  const length = Number(first.headers.get('content-length'));
  t.true(first.body.subarray(0, length).equals(bundle), 'the bundle arrives whole');
  const second = head(first.body.subarray(length));
  t.is(second.status, 'HTTP/1.1 200 OK');
  t.is(second.headers.get('connection'), 'close');
  const { data, whole } = dechunk(second.body);
  t.true(whole);
  t.true(data.includes('refs/tags/1.0.0'));
  noErrors(t, reg);
});

test.serial('an HTTP/1.0 client gets an answer that ends with the connection', async (t) => {
  const { reg } = await servingRegistry(t, {});
  const answer = head(await exchange(reg.url, `GET ${served}/info/refs?service=git-upload-pack HTTP/1.0\r\n\r\n`));
  t.is(answer.status, 'HTTP/1.1 200 OK');
  t.is(answer.headers.get('transfer-encoding'), undefined);
  t.is(answer.headers.get('content-type'), 'application/x-git-upload-pack-advertisement');
  t.true(answer.body.toString('latin1').startsWith(pkt('# service=git-upload-pack\n')));
  t.true(answer.body.toString('latin1').endsWith('0000'));
});

test.serial('a body of declared length that arrives in pieces reaches Git whole', async (t) => {
  const { reg } = await servingRegistry(t, {});
  const body = wantBody(await servedCommit(reg));
  const { hostname, port } = new URL(reg.url);
  const socket = net.connect(Number(port), hostname);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const closed = new Promise((resolve) => socket.on('close', resolve));
  socket.write(`POST ${served}/git-upload-pack HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-git-upload-pack-request\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`);
  await waitUntil(t, 'the request is handed over, its Git waiting for the rest', () => servingProcesses().length === 1);
  socket.write(body.slice(10));
  await closed;
  const { data, whole } = dechunk(head(Buffer.concat(chunks)).body);
  t.true(whole);
  t.is(data.subarray(8, 12).toString('latin1'), 'PACK');
});

test.serial('a chunked body is read whole before the handover; past 10 MiB, chunked or declared, it is refused 413', async (t) => {
  const { reg } = await servingRegistry(t, {});
  const body = wantBody(await servedCommit(reg));
  const chunked = await new Promise<{ status: number; data: Buffer }>((resolve, reject) => {
    const request = http.request(`${reg.url}${served}/git-upload-pack`, { method: 'POST', headers: { 'content-type': 'application/x-git-upload-pack-request' } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (chunk: Buffer) => parts.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, data: Buffer.concat(parts) }));
    });
    request.on('error', reject);
    request.write(body.slice(0, 20));
    setTimeout(() => request.end(body.slice(20)), 100);
  });
  t.is(chunked.status, 200);
  t.is(chunked.data.subarray(8, 12).toString('latin1'), 'PACK');

  const huge = Buffer.alloc(11 * 1024 * 1024, '0');
  const refused = await fetch(`${reg.url}${served}/git-upload-pack`, { method: 'POST', headers: { 'content-type': 'application/x-git-upload-pack-request' }, body: new Blob([huge]).stream(), duplex: 'half' } as RequestInit);
  t.is(refused.status, 413);
  t.is(((await refused.json()) as { error: string }).error, 'too_large');
  const declared = await new Promise<number>((resolve, reject) => {
    const request = http.request(`${reg.url}${served}/git-upload-pack`, { method: 'POST', headers: { 'content-type': 'application/x-git-upload-pack-request', 'content-length': String(huge.length) } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    request.on('error', reject);
    request.end(huge);
  });
  t.is(declared, 413);
  t.deepEqual(reg.registry.deps.git.counts(), { running: 0, waiting: 0 });
  noErrors(t, reg);
});

test.serial('closing the registry gives an answer in the spawner its grace period, then cuts it', async (t) => {
  const { reg } = await servingRegistry(t, { SHUTDOWN_GRACE_SECONDS: '1' });
  const held = hangingFetch(reg);
  t.is((await held.response).statusCode, 200);
  t.is(servingProcesses().length, 1);
  const started = performance.now();
  await reg.close();
  const ms = performance.now() - started;
  t.log(`closed in ${ms.toFixed(0)} ms`);
  t.true(ms >= 900 && ms < 5000, `${ms} ms`);
  await held.closed;
  await waitUntil(t, 'the process group is gone', () => servingProcesses().length === 0);
  t.true(reg.log.lines.some((l) => l.event === 'git_stopped' && l.reason === 'closed'));
  t.deepEqual(gitLines(reg).map((l) => l.event), ['request_aborted']);
});

test.serial('when Git answers nothing, the client gets the catalog 500 and the failure is logged with its stderr', async (t) => {
  const { reg } = await servingRegistry(t, {});
  // A PATH where `nice` is found and `git` is not: the process ends before writing a head.
  const bin = tempDir();
  fs.symlinkSync((await run('sh', ['-c', 'command -v nice'])).stdout.trim(), path.join(bin, 'nice'));
  const saved = process.env['PATH'];
  process.env['PATH'] = bin;
  let res: Response;
  try {
    res = await fetch(`${reg.url}${served}/info/refs?service=git-upload-pack`);
  } finally {
    process.env['PATH'] = saved;
  }
  t.is(res.status, 500);
  t.is(res.headers.get('connection'), 'close');
  t.deepEqual(await res.json(), { error: 'internal', message: 'Something went wrong on our side; it has been logged.' });
  await waitUntil(t, 'the request is logged', () => gitLines(reg).length === 1);
  t.like(gitLines(reg)[0], { event: 'request', status: 500 });
  const failed = reg.log.lines.find((l) => l.event === 'git_failed');
  t.truthy(failed);
  t.regex(String(failed?.stderr), /git/);
});
