import test from 'ava';
import { packagePaths } from '../gateway/packages/version-index.ts';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startRegistry, type TestRegistry } from './helpers/registry.ts';
import { rawRequest, type RawAnswer } from './helpers/http.ts';
import { createIndexFiles, indexFastPath } from '../gateway/static-index.ts';
import { blobId } from '../index-repo/git-object.ts';
import type { Snapshot } from '../index-repo/types.ts';


/** A status no answer of the registry uses: what the fast-path-only server says when the fast path declines. */
const DECLINED = 599;


async function serve(t: { teardown(fn: () => unknown): void }, listener: http.RequestListener): Promise<string> {
  const server = http.createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Two servers over one registry's deps: the Koa app alone, and the fast path alone (599 when it declines). */
async function servers(t: { teardown(fn: () => unknown): void }, reg: TestRegistry): Promise<{ app: string; fast: string }> {
  const fastPath = indexFastPath(reg.registry.deps);
  const app = await serve(t, reg.registry.app.callback());
  const fast = await serve(t, (req, res) => {
    if (fastPath(req, res)) return;
    res.writeHead(DECLINED);
    res.end();
  });
  return { app, fast };
}

const BUNDLE = 'packages/demo/pkg/1.0.0/bundle.pkg.gz';
const BUNDLE_REF = packagePaths('demo/pkg').bundleRef('1.0.0');
const INDEX = 'packages/demo/pkg/index.json';

async function publishDemo(reg: TestRegistry, indexBody = '{"name": "demo/pkg"}'): Promise<void> {
  await reg.registry.deps.index.update(() => ({
    message: 'Publish demo/pkg 1.0.0',
    changes: [{ path: INDEX, content: Buffer.from(indexBody) }],
    refs: [{ ref: BUNDLE_REF, blob: Buffer.from('bundle bytes') }],
    result: null,
  }));
}

/** The headers a client reads, without the ones node:http adds to every answer. */
function meaningful(headers: http.IncomingHttpHeaders): http.IncomingHttpHeaders {
  const { date: _date, connection: _connection, 'keep-alive': _keepAlive, ...rest } = headers;
  return rest;
}

async function started(t: { teardown(fn: () => unknown): void }): Promise<TestRegistry> {
  const reg = await startRegistry();
  t.teardown(() => reg.close());
  await publishDemo(reg);
  return reg;
}

test('the fast path answers a ready file exactly as the app does: GET, HEAD, 304, a stale ETag', async (t) => {
  const reg = await started(t);
  const { app, fast } = await servers(t, reg);
  for (const file of [BUNDLE, INDEX, 'config.json']) {
    const first = await rawRequest(app, `/index/${file}`);
    const etag = String(first.headers.etag);
    const variants = [{}, { method: 'HEAD' }, { headers: { 'If-None-Match': etag } }, { headers: { 'If-None-Match': `W/${etag}, "other"` } }, { headers: { 'If-None-Match': '"other"' } }];
    for (const variant of variants) {
      const fromApp = await rawRequest(app, `/index/${file}`, variant);
      const fromFast = await rawRequest(fast, `/index/${file}`, variant);
      const label = `${file} ${JSON.stringify(variant)}`;
      t.not(fromFast.status, DECLINED, label);
      t.is(fromFast.status, fromApp.status, label);
      t.deepEqual(meaningful(fromFast.headers), meaningful(fromApp.headers), label);
      t.deepEqual(fromFast.body, fromApp.body, label);
    }
  }
  const bundle = await rawRequest(fast, `/index/${BUNDLE}`);
  t.is(bundle.body.toString(), 'bundle bytes');
  t.is(bundle.headers['cache-control'], 'public, max-age=31536000, immutable');
  t.is(bundle.headers['content-type'], 'application/gzip');
  t.is(bundle.headers.etag, `"${blobId(Buffer.from('bundle bytes'))}"`);
  t.is((await rawRequest(fast, `/index/${BUNDLE}`, { headers: { 'If-None-Match': String(bundle.headers.etag) } })).status, 304);
});

test('everything but a GET or HEAD of a ready file is left to the app', async (t) => {
  const reg = await started(t);
  const { app, fast } = await servers(t, reg);
  t.is((await rawRequest(fast, `/index/${INDEX}`)).status, DECLINED, 'not asked for yet, so not ready');
  await rawRequest(app, `/index/${INDEX}`);
  t.is((await rawRequest(fast, `/index/${INDEX}`)).status, 200);
  const declined = [
    { target: `/index/${INDEX}`, method: 'PUT' },
    { target: `/index/${INDEX}`, method: 'DELETE' },
    { target: '/index/packages/demo/pkg/../pkg/index.json' },
    { target: '/index/packages/demo/pkg/%2e%2e/pkg/index.json' },
    { target: '/index/packages%2Fdemo/pkg/index.json' },
    { target: '/index/packages/demo/pkg//index.json' },
    { target: '/index/.git/HEAD' },
    { target: '/index/packages/demo/pkg/' },
    { target: '/index/' },
    { target: '/index.git/HEAD' },
    { target: '/healthz' },
    { target: `/private/${INDEX}` },
  ];
  for (const { target, method } of declined) {
    t.is((await rawRequest(fast, target, method ? { method } : {})).status, DECLINED, `${method ?? 'GET'} ${target}`);
  }
});

test('a query string does not change the file, and never reaches the log', async (t) => {
  const reg = await started(t);
  const { app, fast } = await servers(t, reg);
  await rawRequest(app, `/index/${INDEX}`);
  const res = await rawRequest(fast, `/index/${INDEX}?secret=abc`);
  t.is(res.status, 200);
  t.is(res.body.toString(), '{"name": "demo/pkg"}');
  t.false(JSON.stringify(reg.log.lines).includes('secret'));
});

test('each request the fast path answers is one log line with method, path, status and duration', async (t) => {
  const reg = await started(t);
  const { app, fast } = await servers(t, reg);
  const etag = String((await rawRequest(app, `/index/${INDEX}`)).headers.etag);
  const before = reg.log.lines.length;
  await rawRequest(fast, `/index/${INDEX}`);
  await rawRequest(fast, `/index/${INDEX}`, { method: 'HEAD' });
  await rawRequest(fast, `/index/${INDEX}`, { headers: { 'If-None-Match': etag } });
  const lines = reg.log.lines.slice(before);
  t.deepEqual(
    lines.map(({ event, level, method, path, status }) => ({ event, level, method, path, status })),
    [
      { event: 'request', level: 'info', method: 'GET', path: `/index/${INDEX}`, status: 200 },
      { event: 'request', level: 'info', method: 'HEAD', path: `/index/${INDEX}`, status: 200 },
      { event: 'request', level: 'info', method: 'GET', path: `/index/${INDEX}`, status: 304 },
    ],
  );
  const fromApp = reg.log.lines.find((line) => line.event === 'request' && line.path === `/index/${INDEX}`);
  for (const line of lines) {
    t.is(typeof line.ms, 'number');
    t.regex(String(line.time), /^\d{4}-\d\d-\d\dT/);
    t.deepEqual(Object.keys(line), Object.keys(fromApp ?? {}), 'the same fields as the line of a request the app answers');
  }
});

test('after a commit, a ready file whose blob is unchanged is answered at once, and none from the old tree: changed, kept, deleted', async (t) => {
  const reg = await started(t);
  const { app, fast } = await servers(t, reg);
  const oldIndex = await rawRequest(app, `/index/${INDEX}`);
  const bundle = await rawRequest(app, `/index/${BUNDLE}`);
  t.is((await rawRequest(fast, `/index/${INDEX}`)).status, 200);

  await publishDemo(reg, '{"name": "demo/pkg", "versions": []}');
  t.is((await rawRequest(fast, `/index/${INDEX}`)).status, DECLINED, 'index.json changed: the tree decides again');
  const kept = await rawRequest(fast, `/index/${BUNDLE}`);
  t.is(kept.status, 200, 'the bundle is the same blob, and the trees in memory say so');
  t.is(kept.headers.etag, bundle.headers.etag);
  const newIndex = await rawRequest(reg.url, `/index/${INDEX}`);
  t.is(newIndex.body.toString(), '{"name": "demo/pkg", "versions": []}');
  t.not(newIndex.headers.etag, oldIndex.headers.etag);
  t.deepEqual((await rawRequest(fast, `/index/${INDEX}`)).body, newIndex.body);
  t.is((await rawRequest(fast, `/index/${INDEX}`, { headers: { 'If-None-Match': String(oldIndex.headers.etag) } })).status, 200);
  t.is((await rawRequest(fast, `/index/${BUNDLE}`)).headers.etag, bundle.headers.etag);

  await reg.registry.deps.index.update(() => ({ message: 'Revoke demo/pkg 1.0.0', changes: [], refs: [{ ref: BUNDLE_REF, delete: true }], result: null }));
  t.is((await rawRequest(fast, `/index/${BUNDLE}`)).status, DECLINED);
  t.is((await rawRequest(reg.url, `/index/${BUNDLE}`)).status, 404);
  t.is((await rawRequest(fast, `/index/${BUNDLE}`)).status, DECLINED, 'a deleted file stays with the app');
});

test('a commit elsewhere leaves a ready file ready; a tree not in memory sends the file back to the app until it is read', async (t) => {
  const reg = await started(t);
  const index = reg.registry.deps.index;
  const other = (n: number) => index.update(() => ({ message: `Publish demo/other 1.0.${n}`, changes: [{ path: 'packages/demo/other/index.json', content: Buffer.from(`{"n": ${n}}`) }], result: null }));
  const files = createIndexFiles(index);
  const file = await files.find(INDEX);
  t.truthy(file);
  await other(1);
  t.is(files.cached(INDEX), file, 'the same ready answer, confirmed by the trees the commit left in memory');
  t.is(files.cached('packages/demo/other/index.json'), null, 'never asked for: not ready');

  // The same index, as if none of its trees were in memory.
  const forgetful = new Map<Snapshot, Snapshot>();
  const unknown = createIndexFiles({
    snapshot() {
      const snapshot = index.snapshot();
      if (!forgetful.has(snapshot)) forgetful.set(snapshot, { ...snapshot, knownServedEntry: () => undefined });
      return forgetful.get(snapshot) as Snapshot;
    },
  });
  const before = await unknown.find(INDEX);
  t.is(unknown.cached(INDEX), before);
  await other(2);
  t.is(unknown.cached(INDEX), null, 'not confirmed without reading');
  t.is(await unknown.find(INDEX), before, 'confirmed by reading the tree: the same answer');
  t.is(unknown.cached(INDEX), before);
});

test('a reader of the registry never goes back to an older index.json while commits land', async (t) => {
  const reg = await started(t);
  let writing = true;
  const writes = (async () => {
    for (let i = 1; i <= 30; i++) {
      await reg.registry.deps.index.update(() => ({ message: `Publish demo/pkg 1.0.${i}`, changes: [{ path: INDEX, content: Buffer.from(JSON.stringify({ count: i })) }], result: null }));
    }
    writing = false;
  })();
  let seen = 0;
  let reads = 0;
  while (writing || reads < 50) {
    const res = await rawRequest(reg.url, `/index/${INDEX}`);
    reads++;
    const { count = 0 } = JSON.parse(res.body.toString()) as { count?: number };
    if (count < seen) t.fail(`read ${count} after ${seen}`);
    seen = count;
    if (res.headers.etag !== `"${blobId(res.body)}"`) t.fail(`the ETag ${res.headers.etag} is not the body's blob id`);
  }
  await writes;
  t.is(seen, 30);
  t.is(JSON.parse((await rawRequest(reg.url, `/index/${INDEX}`)).body.toString()).count, 30);
});

test('ready files stay within their byte limit; a larger file is still served, by the app', async (t) => {
  const reg = await started(t);
  const files = createIndexFiles(reg.registry.deps.index, 600);
  const small = await files.find(INDEX);
  t.truthy(small);
  t.is(files.cached(INDEX), small);
  const big = Buffer.alloc(4096, 7);
  await reg.registry.deps.index.update(() => ({ message: 'Publish demo/big 1.0.0', changes: [], refs: [{ ref: packagePaths('demo/big').bundleRef('1.0.0'), blob: big }], result: null }));
  const found = await files.find('packages/demo/big/1.0.0/bundle.pkg.gz');
  t.deepEqual(found?.body, big);
  t.is(files.cached('packages/demo/big/1.0.0/bundle.pkg.gz'), null);
  t.is(files.cached('packages/demo/nothing.json'), null);
  t.is(await files.find('packages/demo/nothing.json'), null);
  t.is(await files.find('packages/demo'), null, 'a folder is not a file');
});
