import test from 'ava';
import { onHandover, servingRegistry, waitUntil } from './helpers/git-serving.ts';
import { dechunk, keptConnection, pkt } from './helpers/raw-http.ts';
import type { GitProcesses } from '../index-repo/git-processes.ts';
import type { MailRegistry } from './helpers/accounts.ts';
import { FOLLOW_UP_MS } from '../index-repo/upload-pack.ts';

const served = '/git/acme/served.git';
const asGit = 'Host: x\r\nUser-Agent: git/2.39.5\r\nGit-Protocol: version=2\r\n';
const advertisement = (repository = served, more = '') => `GET ${repository}/info/refs?service=git-upload-pack HTTP/1.1\r\n${asGit}${more}\r\n`;
const lsRefsBody = `${pkt('command=ls-refs\n')}0001${pkt('ref-prefix refs/tags/\n')}0000`;
const lsRefs = (more = '') => `POST ${served}/git-upload-pack HTTP/1.1\r\n${asGit}${more}Content-Type: application/x-git-upload-pack-request\r\nContent-Length: ${lsRefsBody.length}\r\n\r\n${lsRefsBody}`;

/** Counts the connections the gateway hands to the spawner. */
function countHandovers(git: GitProcesses): { count: number } {
  const counted = { count: 0 };
  onHandover(git, () => counted.count++);
  return counted;
}

const gitLines = (reg: MailRegistry) => reg.log.lines.filter((l) => l.event === 'request' && String(l.path).startsWith('/git/'));

test.serial("a Git client's next requests on its connection are answered there, without the gateway, and each is logged", async (t) => {
  const { reg } = await servingRegistry(t, {});
  const handovers = countHandovers(reg.registry.deps.git);
  const connection = keptConnection(reg.url);
  const advertised = await connection.ask(advertisement());
  t.is(advertised?.status, 'HTTP/1.1 200 OK');
  t.not(advertised?.headers.get('connection'), 'close');
  t.true(dechunk(advertised?.body ?? Buffer.alloc(0)).data.includes('ls-refs'));
  for (let i = 0; i < 3; i++) {
    const listed = await connection.ask(lsRefs());
    t.is(listed?.status, 'HTTP/1.1 200 OK');
    t.true(dechunk(listed?.body ?? Buffer.alloc(0)).data.includes('refs/tags/1.0.0'));
  }
  t.is(handovers.count, 1, 'one connection handed over, four requests answered on it');
  connection.close();
  await waitUntil(t, 'every request is logged', () => gitLines(reg).length === 4);
  t.deepEqual(
    gitLines(reg).map((l) => `${l.method} ${l.path} ${l.status}`),
    [`GET ${served}/info/refs 200`, ...Array.from({ length: 3 }, () => `POST ${served}/git-upload-pack 200`)],
  );
  await waitUntil(t, 'the place is free once the connection closed', () => reg.registry.deps.git.counts().running === 0);
});

test.serial('on a kept connection, anything but the same repository with the same credentials closes it unanswered', async (t) => {
  const { reg } = await servingRegistry(t, {});
  const cases: Array<[string, string]> = [
    ['another repository', advertisement('/git/acme/other.git')],
    ['the static index', 'GET /index/config.json HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['a push', `GET ${served}/info/refs?service=git-receive-pack HTTP/1.1\r\n${asGit}\r\n`],
    ['other credentials', lsRefs('Authorization: Bearer someone-else\r\n')],
  ];
  for (const [what, request] of cases) {
    const connection = keptConnection(reg.url);
    t.is((await connection.ask(advertisement()))?.status, 'HTTP/1.1 200 OK');
    t.is(await connection.ask(request), null, what);
    // Asked again on a new connection, as a client does, it reaches the gateway.
    const again = keptConnection(reg.url);
    t.not(await again.ask(request), null, what);
    again.close();
  }
  await waitUntil(t, 'every place is free', () => reg.registry.deps.git.counts().running === 0);
});

test.serial("a client that is not Git gets its connection closed after the answer", async (t) => {
  const { reg } = await servingRegistry(t, {});
  const connection = keptConnection(reg.url);
  const answer = await connection.ask(`GET ${served}/info/refs?service=git-upload-pack HTTP/1.1\r\nHost: x\r\nUser-Agent: curl/8\r\n\r\n`);
  t.is(answer?.status, 'HTTP/1.1 200 OK');
  t.is(answer?.headers.get('connection'), 'close');
  await connection.closed;
  t.pass();
});

test.serial(`a kept connection holds its place among the Git processes until it closes, ${FOLLOW_UP_MS} ms after its answer`, async (t) => {
  const { reg } = await servingRegistry(t, { GIT_PROCESSES: '1' });
  const git = reg.registry.deps.git;
  const connection = keptConnection(reg.url);
  t.is((await connection.ask(advertisement()))?.status, 'HTTP/1.1 200 OK');
  const answered = performance.now();
  t.is(git.counts().running, 1);
  // A second client waits for the place meanwhile, and gets it once the first connection closed.
  const waiting = keptConnection(reg.url);
  const second = waiting.ask(advertisement());
  await waitUntil(t, 'the second request waits', () => git.counts().waiting === 1);
  await connection.closed;
  const idle = performance.now() - answered;
  t.log(`the idle connection closed ${idle.toFixed(0)} ms after its answer`);
  t.true(idle >= FOLLOW_UP_MS * 0.8 && idle < FOLLOW_UP_MS + 2000, `${idle} ms`);
  t.is((await second)?.status, 'HTTP/1.1 200 OK');
  waiting.close();
  await waitUntil(t, 'the place is free', () => git.counts().running === 0);
});

test.serial('a request that expects 100 Continue gets it once, whichever side reads its body', async (t) => {
  const { reg } = await servingRegistry(t, {});
  const expecting = (request: string) => request.replace('Content-Type:', 'Expect: 100-continue\r\nContent-Type:');
  for (const follows of [false, true]) {
    const connection = keptConnection(reg.url);
    if (follows) t.is((await connection.ask(advertisement()))?.status, 'HTTP/1.1 200 OK');
    // The head alone first, as a client that waits for the 100 sends it.
    const request = expecting(lsRefs());
    const headEnd = request.indexOf('\r\n\r\n') + 4;
    const continued = await connection.ask(request.slice(0, headEnd));
    t.is(continued?.status, 'HTTP/1.1 100 Continue');
    const listed = await connection.ask(request.slice(headEnd));
    t.is(listed?.status, 'HTTP/1.1 200 OK', `follows: ${follows}`);
    t.true(dechunk(listed?.body ?? Buffer.alloc(0)).data.includes('refs/tags/1.0.0'));
    connection.close();
  }
});
