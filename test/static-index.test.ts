import test from 'ava';
import { packagePaths } from '../gateway/packages/version-index.ts';
import { startRegistry, type TestRegistry } from './helpers/registry.ts';
import { rawRequest } from './helpers/http.ts';

let reg: TestRegistry;
test.before(async () => {
  reg = await startRegistry();
  await reg.registry.deps.index.update(() => ({
    message: 'Publish demo/pkg 1.0.0',
    changes: [{ path: 'packages/demo/pkg/index.json', content: Buffer.from('{"name": "demo/pkg"}') }],
    refs: [{ ref: packagePaths('demo/pkg').bundleRef('1.0.0'), blob: Buffer.from('bundle bytes') }],
    result: null,
  }));
});
test.after.always(() => reg.close());

test('GET /healthz', async (t) => {
  const res = await fetch(`${reg.url}/healthz`);
  t.is(res.status, 200);
  t.deepEqual(await res.json(), { status: 'ok' });
});

test('config.json names the gateway and the index', async (t) => {
  const res = await fetch(`${reg.url}/index/config.json`);
  t.is(res.status, 200);
  t.is(res.headers.get('cache-control'), 'no-cache');
  t.deepEqual(await res.json(), { protocol: 1, api: reg.url, index: `${reg.url}/index` });
});

test('bundles are immutable, metadata is revalidated, and ETag gives 304', async (t) => {
  const bundle = await fetch(`${reg.url}/index/packages/demo/pkg/1.0.0/bundle.pkg.gz`);
  t.is(bundle.status, 200);
  t.is(bundle.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  t.is(bundle.headers.get('content-type'), 'application/gzip');
  t.is(await bundle.text(), 'bundle bytes');
  const etag = bundle.headers.get('etag') as string;
  t.regex(etag, /^"[0-9a-f]{40}"$/);
  const again = await fetch(`${reg.url}/index/packages/demo/pkg/1.0.0/bundle.pkg.gz`, { headers: { 'If-None-Match': etag } });
  t.is(again.status, 304);
  t.is(await again.text(), '');
  const index = await fetch(`${reg.url}/index/packages/demo/pkg/index.json`);
  t.is(index.headers.get('cache-control'), 'no-cache');
  t.regex(index.headers.get('content-type') ?? '', /^application\/json/);
});

test('HEAD answers the headers of GET without a body', async (t) => {
  const res = await fetch(`${reg.url}/index/packages/demo/pkg/1.0.0/bundle.pkg.gz`, { method: 'HEAD' });
  t.is(res.status, 200);
  t.is(res.headers.get('content-length'), String('bundle bytes'.length));
  t.is(await res.text(), '');
});

test('writes to the index are refused', async (t) => {
  const res = await fetch(`${reg.url}/index/config.json`, { method: 'PUT', body: '{}' });
  t.is(res.status, 405);
  t.is(((await res.json()) as { error: string }).error, 'method_not_allowed');
});

const escapes = [
  '/index/../package.json',
  '/index/%2e%2e/package.json',
  '/index/packages/%2e%2e/%2e%2e/index.git/HEAD',
  '/index/packages%2Fdemo%2Fpkg%2Findex.json',
  '/index/packages%2fdemo/pkg/index.json',
  '/index/.git/HEAD',
  '/index/.git/config',
  '/index/packages/demo/pkg/..%2f..%2f..%2fconfig.json',
  '/index/packages/demo/pkg/..%5c..%5cconfig.json',
  '/index/packages/demo%00/pkg/index.json',
  '/index/packages/demo/pkg/',
  '/index/packages',
  '/index/',
  '/index/nonexistent.json',
  '/index.git/config',
  '/index.git/registry.lock',
  '/index.git/objects/../config',
  '/index.git/refs/heads/main.lock',
];

for (const target of escapes) {
  test(`no path escapes the index: ${target}`, async (t) => {
    const res = await rawRequest(reg.url, target);
    t.is(res.status, 404);
    t.deepEqual(Object.keys(JSON.parse(res.body.toString())), ['error', 'message']);
  });
}

test('an unknown route is a catalog 404', async (t) => {
  const res = await fetch(`${reg.url}/nowhere`);
  t.is(res.status, 404);
  t.is(((await res.json()) as { error: string }).error, 'not_found');
});
