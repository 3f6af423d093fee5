import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import { spawnRegistry, startRegistryProcess } from './helpers/process.ts';
import { tempDir } from './helpers/registry.ts';
import { startSmtp } from './helpers/smtp.ts';
import { createIdentity, loggedIn } from './helpers/accounts.ts';
import { bundle } from './helpers/bundle.ts';
import { fsck } from './helpers/git.ts';

test('the registry creates its data folder on first start and logs one JSON line per request', async (t) => {
  const dataDir = path.join(tempDir(), 'data', 'nested');
  const registry = await startRegistryProcess({ REGISTRY_DATA: dataDir });
  t.teardown(() => registry.stop());
  t.true(fs.existsSync(path.join(dataDir, 'index.git', 'HEAD')));
  t.true(fs.existsSync(path.join(dataDir, 'index', 'config.json')));
  await fsck(path.join(dataDir, 'index.git'));
  await fetch(`${registry.url}/healthz?probe=1`, { headers: { Authorization: 'Bearer grs_not-a-real-token' } });
  const { code } = await registry.stop('SIGTERM');
  t.is(code, 0);
  const lines = registry.output().trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  const request = lines.find((l) => l.event === 'request' && l.path === '/healthz');
  t.like(request, { method: 'GET', path: '/healthz' });
  t.is(typeof request?.ms, 'number');
  t.false(registry.output().includes('grs_not-a-real-token'), 'no token in the log');
  t.false(registry.output().includes('probe=1'), 'no query in the log');
});

test('a second registry on the same data folder refuses to start, naming the first', async (t) => {
  const dataDir = tempDir();
  const first = await startRegistryProcess({ REGISTRY_DATA: dataDir });
  t.teardown(() => first.stop());
  const second = await spawnRegistry({ REGISTRY_DATA: dataDir });
  const { code } = await second.exited;
  t.not(code, 0);
  t.regex(second.output(), new RegExp(`another registry process \\(pid ${first.process.pid}\\) is using`));
  t.is((await fetch(`${first.url}/healthz`)).status, 200, 'the first one goes on');
});

test('a registry killed with SIGKILL can start again on its data folder', async (t) => {
  const dataDir = tempDir();
  const first = await startRegistryProcess({ REGISTRY_DATA: dataDir });
  await first.stop('SIGKILL');
  const second = await startRegistryProcess({ REGISTRY_DATA: dataDir });
  t.teardown(() => second.stop());
  t.is((await fetch(`${second.url}/index/config.json`)).status, 200);
});

test('a configuration error names the variable and stops the start', async (t) => {
  const registry = await spawnRegistry({ REGISTRY_DATA: tempDir(), PORT: 'eighty' });
  const { code } = await registry.exited;
  t.not(code, 0);
  t.regex(registry.output(), /PORT: expected a port number/);
});

/** Uploads a bundle slowly: the first half, then (after `between` resolves) the rest. */
function slowUpload(url: string, token: string, bytes: Buffer, between: Promise<void>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'PUT', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/gzip', 'Content-Length': bytes.length } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    const half = Math.floor(bytes.length / 2);
    req.write(bytes.subarray(0, half));
    void between.then(() => req.end(bytes.subarray(half)));
  });
}

test('SIGTERM lets a publish in flight finish, then exits 0 with the version committed', async (t) => {
  const smtp = await startSmtp();
  t.teardown(() => smtp.close());
  const dataDir = tempDir();
  const registry = await startRegistryProcess({ REGISTRY_DATA: dataDir, SMTP_URL: smtp.url });
  t.teardown(() => registry.stop());
  const token = await loggedIn({ url: registry.url, smtp }, 'robin@example.com');
  await createIdentity({ url: registry.url }, token, 'shutdown');
  const bytes = bundle({ name: 'shutdown/pkg', version: '1.0.0', padding: 200_000 });
  let sendRest!: () => void;
  const upload = slowUpload(`${registry.url}/packages/shutdown/pkg/1.0.0`, token, bytes, new Promise((resolve) => (sendRest = resolve)));
  await new Promise((resolve) => setTimeout(resolve, 300));
  registry.process.kill('SIGTERM');
  await new Promise((resolve) => setTimeout(resolve, 300));
  sendRest();
  t.is(await upload, 201);
  const { code } = await registry.exited;
  t.is(code, 0);
  const index = JSON.parse(fs.readFileSync(path.join(dataDir, 'index/packages/shutdown/pkg/index.json'), 'utf8')) as { versions: Array<{ version: string }> };
  t.deepEqual(index.versions.map((v) => v.version), ['1.0.0']);
  await fsck(path.join(dataDir, 'index.git'));
});

/** The nice value of each of a process's threads, by the thread's name. */
function threadNices(pid: number): Array<{ name: string; nice: number }> {
  return fs.readdirSync(`/proc/${pid}/task`).map((thread) => {
    const stat = fs.readFileSync(`/proc/${pid}/task/${thread}/stat`, 'utf8');
    // The fields after the name (which is in parentheses and may hold spaces): nice is the 19th field of the line.
    const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { name: fs.readFileSync(`/proc/${pid}/task/${thread}/comm`, 'utf8').trim(), nice: Number(after[16]) };
  });
}

test('the index repositories\' writer threads run WRITER_NICE below the event loop, and nothing else does', async (t) => {
  if (process.platform !== 'linux') return t.pass('thread priorities are set on Linux only');
  for (const [env, expected] of [[{}, 10], [{ WRITER_NICE: '0' }, 0], [{ WRITER_NICE: '19' }, 19]] as const) {
    const child = await startRegistryProcess({ REGISTRY_DATA: tempDir(), ...env });
    const threads = threadNices(child.process.pid as number);
    await child.stop();
    const writers = threads.filter((thread) => thread.name === 'WorkerThread');
    t.is(writers.length, 2, 'the public and the private repository');
    t.deepEqual(writers.map((thread) => thread.nice), [expected, expected], JSON.stringify(env));
    const others = threads.filter((thread) => thread.name !== 'WorkerThread');
    t.true(others.some((thread) => thread.name === 'MainThread'));
    t.true(others.some((thread) => thread.name === 'libuv-worker'), 'the thread pool, started before the writers, keeps the loop\'s priority');
    t.deepEqual(others.filter((thread) => thread.nice !== 0), [], JSON.stringify(env));
  }
});
