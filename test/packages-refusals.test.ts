import test from 'ava';
import http from 'node:http';
import zlib from 'node:zlib';
import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { readBundle } from '../gateway/packages/bundle.ts';
import { parseRange, type GrenRange } from '../gateway/packages/range.ts';
import { bundle, gzipJson, outlineOf } from './helpers/bundle.ts';
import { published, publisher, putBundle, revokeCall } from './helpers/fixtures.ts';
import { addMember, call, createToken, expectError, expectJson, loggedIn, startRegistryWithMail, type MailRegistry } from './helpers/accounts.ts';

let reg: MailRegistry;
let token: string;
test.before(async () => {
  reg = await startRegistryWithMail();
  token = await publisher(reg, 'owner@example.com', ['acme']);
  await published(reg.url, token, 'acme/base', '1.0.0', bundle({ name: 'acme/base', version: '1.0.0' }));
  await published(reg.url, token, 'acme/base', '2.0.0', bundle({ name: 'acme/base', version: '2.0.0' }));
  await published(reg.url, token, 'acme/secret', '1.0.0', bundle({ name: 'acme/secret', version: '1.0.0', private: true }));
});
test.after.always(() => reg?.close());

const put = (name: string, version: string, bytes: Uint8Array, contentType?: string) => putBundle(reg.url, token, name, version, bytes, contentType);

test('401 without a token, 403 with only download, 404 for an identity that does not exist', async (t) => {
  const bytes = bundle({ name: 'acme/tool', version: '1.0.0' });
  await expectError(await putBundle(reg.url, null, 'acme/tool', '1.0.0', bytes), 401, 'unauthorized', t);
  const reader = await loggedIn(reg, 'reader@example.com');
  await addMember(reg, token, 'acme', 'reader@example.com', 'download');
  await expectError(await putBundle(reg.url, reader, 'acme/tool', '1.0.0', bytes), 403, 'forbidden', t);
  const downloadToken = await createToken(reg, token, { identity: 'acme', role: 'download' });
  await expectError(await putBundle(reg.url, downloadToken.token, 'acme/tool', '1.0.0', bytes), 403, 'forbidden', t);
  await expectError(await putBundle(reg.url, token, 'nobody/tool', '1.0.0', bundle({ name: 'nobody/tool', version: '1.0.0' })), 404, 'not_found', t);
  await expectError(await revokeCall(reg.url, reader, 'acme/base', '1.0.0'), 403, 'forbidden', t);
});

test('a publish token publishes', async (t) => {
  const ci = await createToken(reg, token, { identity: 'acme', role: 'publish' });
  const bytes = bundle({ name: 'acme/by-ci', version: '1.0.0' });
  t.is((await putBundle(reg.url, ci.token, 'acme/by-ci', '1.0.0', bytes)).status, 201);
});

test('400 for a URL naming no possible package or version', async (t) => {
  const bytes = bundle({ name: 'acme/tool', version: '1.0.0' });
  await expectError(await put('acme/Tool', '1.0.0', bytes), 400, 'invalid_name', t);
  await expectError(await put('-acme/tool', '1.0.0', bytes), 400, 'invalid_name', t);
  await expectError(await put('acme/tool', '1.0', bytes), 400, 'invalid_request', t);
  await expectError(await put('acme/tool', '01.0.0', bytes), 400, 'invalid_request', t);
});

test('415 for a body that does not say it is a bundle', async (t) => {
  await expectError(await put('acme/tool', '1.0.0', bundle({ name: 'acme/tool', version: '1.0.0' }), 'application/json'), 415, 'unsupported_media_type', t);
});

test('422 invalid_bundle: not gzip, not JSON, no outline or sources, not a package', async (t) => {
  const outline = outlineOf({ name: 'acme/tool', version: '1.0.0' });
  for (const bytes of [
    Buffer.from('not gzip at all'),
    zlib.gzipSync('{"outline": '),
    gzipJson({ sources: {} }),
    gzipJson({ outline }),
    gzipJson({ outline: { ...outline, type: 'application' }, sources: { Main: '' } }),
  ]) {
    await expectError(await put('acme/tool', '1.0.0', bytes), 422, 'invalid_bundle', t);
  }
});

test('422 name_mismatch and version_mismatch: the outline against the URL', async (t) => {
  await expectError(await put('acme/tool', '1.0.0', bundle({ name: 'acme/other', version: '1.0.0' })), 422, 'name_mismatch', t);
  await expectError(await put('acme/tool', '1.0.0', bundle({ name: 'acme/tool', version: '1.0.1' })), 422, 'version_mismatch', t);
});

test('422 invalid_outline names the field', async (t) => {
  const cases: Array<[Parameters<typeof bundle>[0], RegExp]> = [
    [{ name: 'acme/tool', version: '1.0.0', gren: '0.6 <= v < 0.7' }, /gren-version/],
    [{ name: 'acme/tool', version: '1.0.0', deps: { 'acme/base': '1.0.0 <= v <= 0.9.0' } }, /acme\/base/],
    [{ name: 'acme/tool', version: '1.0.0', platform: 'wasm' }, /platform/],
    [{ name: 'acme/tool', version: '1.0.0', outline: { summary: undefined } }, /summary/],
    [{ name: 'acme/tool', version: '1.0.0', summary: 's'.repeat(81) }, /summary/],
    [{ name: 'acme/tool', version: '1.0.0', outline: { license: undefined } }, /license/],
    [{ name: 'acme/tool', version: '1.0.0', exposed: ['Tool'], sources: {}, outline: { 'exposed-modules': ['Tool', 'Missing'] } }, /Missing/],
    [{ name: 'acme/tool', version: '1.0.0', outline: { 'exposed-modules': ['tool'] } }, /tool/],
  ];
  for (const [spec, field] of cases) {
    const { message } = await expectError(await put('acme/tool', '1.0.0', bundle(spec)), 422, 'invalid_outline', t);
    t.regex(message, field);
  }
});

test('422 unknown_dependency: missing, out of range, only revoked, or private for a public package', async (t) => {
  const dependingOn = (deps: Record<string, string>) => put('acme/tool', '1.0.0', bundle({ name: 'acme/tool', version: '1.0.0', deps }));
  await expectError(await dependingOn({ 'acme/nothing': '1.0.0 <= v < 2.0.0' }), 422, 'unknown_dependency', t);
  await expectError(await dependingOn({ 'acme/base': '3.0.0 <= v < 4.0.0' }), 422, 'unknown_dependency', t);
  await expectError(await dependingOn({ 'acme/base': '1.0.0 < v < 2.0.0' }), 422, 'unknown_dependency', t);
  await expectError(await dependingOn({ 'acme/secret': '1.0.0 <= v < 2.0.0' }), 422, 'unknown_dependency', t);
  await published(reg.url, token, 'acme/gone', '1.0.0', bundle({ name: 'acme/gone', version: '1.0.0' }));
  await expectJson(await revokeCall(reg.url, token, 'acme/gone', '1.0.0', 'broken'), 200);
  await expectError(await dependingOn({ 'acme/gone': '1.0.0 <= v < 2.0.0' }), 422, 'unknown_dependency', t);
  // The bounds are honoured: `<=` on the high side reaches 2.0.0.
  t.is((await put('acme/tool', '1.0.0', bundle({ name: 'acme/tool', version: '1.0.0', deps: { 'acme/base': '1.0.0 < v <= 2.0.0' } }))).status, 201);
});

test('422 visibility_mismatch: a version whose private differs from its package', async (t) => {
  await expectError(await put('acme/base', '3.0.0', bundle({ name: 'acme/base', version: '3.0.0', private: true })), 422, 'visibility_mismatch', t);
  await expectError(await put('acme/secret', '2.0.0', bundle({ name: 'acme/secret', version: '2.0.0' })), 422, 'visibility_mismatch', t);
  await expectError(await put('acme/secret', '2.0.0', bundle({ name: 'acme/secret', version: '2.0.0', private: false })), 422, 'visibility_mismatch', t);
});

test('409 version_exists, also for a revoked version', async (t) => {
  await expectError(await put('acme/base', '1.0.0', bundle({ name: 'acme/base', version: '1.0.0' })), 409, 'version_exists', t);
  await published(reg.url, token, 'acme/yanked', '1.0.0', bundle({ name: 'acme/yanked', version: '1.0.0' }));
  await expectJson(await revokeCall(reg.url, token, 'acme/yanked', '1.0.0'), 200);
  const { message } = await expectError(await put('acme/yanked', '1.0.0', bundle({ name: 'acme/yanked', version: '1.0.0' })), 409, 'version_exists', t);
  t.regex(message, /revoked/);
});

test('the author is spelled as its publishing identity is', async (t) => {
  const { message } = await expectError(await put('ACME/base', '9.0.0', bundle({ name: 'ACME/base', version: '9.0.0' })), 400, 'invalid_name', t);
  t.regex(message, /acme\/base/);
  await expectError(await put('Acme/fresh', '1.0.0', bundle({ name: 'Acme/fresh', version: '1.0.0' })), 400, 'invalid_name', t);
});

test('413 for a declared length over 10 MiB, before reading it', async (t) => {
  const big = crypto.randomBytes(10 * 1024 * 1024 + 1);
  await expectError(await put('acme/huge', '1.0.0', big), 413, 'too_large', t);
});

/** Sends `total` bytes of a gzip stream chunked (no Content-Length); answers the status and body. */
function sendChunked(total: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${reg.url}/packages/acme/huge/1.0.0`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/gzip', 'transfer-encoding': 'chunked' },
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    const gzip = zlib.createGzip({ level: 0 });
    gzip.pipe(req);
    let sent = 0;
    const pump = () => {
      while (sent < total) {
        sent += 64 * 1024;
        if (!gzip.write(crypto.randomBytes(64 * 1024))) return gzip.once('drain', pump);
      }
      gzip.end();
    };
    pump();
  });
}

test('413 for a chunked upload that passes 10 MiB, stopped while reading', async (t) => {
  const answer = await sendChunked(12 * 1024 * 1024);
  t.is(answer.status, 413);
  t.is(JSON.parse(answer.body).error, 'too_large');
});

test('a gzip bomb: 413 once it inflates past 50 MiB, and the registry stays healthy', async (t) => {
  const bomb = zlib.gzipSync(Buffer.alloc(200 * 1024 * 1024, ' '));
  t.true(bomb.length < 1024 * 1024, `the bomb is ${bomb.length} bytes`);
  const before = process.memoryUsage().rss;
  const answers = await Promise.all([1, 2, 3].map(() => put('acme/bomb', '1.0.0', bomb)));
  for (const res of answers) await expectError(res, 413, 'too_large', t);
  t.true(process.memoryUsage().rss - before < 200 * 1024 * 1024, 'three bombs at once never reached memory');
  t.is((await fetch(`${reg.url}/healthz`)).status, 200);
  t.is((await put('acme/after-bomb', '1.0.0', bundle({ name: 'acme/after-bomb', version: '1.0.0' }))).status, 201);
});

test('an inflated size just under 50 MiB is accepted', async (t) => {
  // Seven modules of 7 MiB each: no module may be over 8 MiB.
  const filler = ' '.repeat(7 * 1024 * 1024);
  const sources = Object.fromEntries(['Main', 'A', 'B', 'C', 'D', 'E', 'F'].map((name) => [name, `module ${name} exposing (..)\n${filler}`]));
  const bytes = gzipJson({ outline: outlineOf({ name: 'acme/big', version: '1.0.0' }), sources });
  t.is((await put('acme/big', '1.0.0', bytes)).status, 201);
});

test('numbers beyond the compiler’s 16 bits: refused with a 4xx on every route, never a 500', async (t) => {
  const huge = '99999999999999999999.0.0';
  for (const version of [huge, '65536.0.0']) {
    await expectError(await put('acme/base', version, bundle({ name: 'acme/base', version })), 400, 'invalid_request', t);
    await expectError(await revokeCall(reg.url, token, 'acme/base', version), 400, 'invalid_request', t);
    await expectError(await fetch(`${reg.url}/packages/acme/base/previous/${version}`), 400, 'invalid_request', t);
    await expectError(await fetch(`${reg.url}/packages/acme/base/latest?gren=${version}`), 400, 'invalid_request', t);
    await expectError(await call(reg.url, 'GET', `/private/packages/acme/secret/${version}/gren.json`, { token }), 404, 'not_found', t);
  }
  const ranges: Array<[Parameters<typeof bundle>[0], RegExp]> = [
    [{ name: 'acme/tool', version: '1.0.0', deps: { 'acme/base': `1.0.0 <= v < ${huge}` } }, /acme\/base/],
    [{ name: 'acme/tool', version: '1.0.0', gren: `0.6.0 <= v < ${huge}` }, /gren-version/],
  ];
  for (const [spec, field] of ranges) t.regex((await expectError(await put('acme/tool', '1.0.0', bundle(spec)), 422, 'invalid_outline', t)).message, field);
  t.is((await put('acme/far', '65535.65535.65535', bundle({ name: 'acme/far', version: '65535.65535.65535' }))).status, 201);
  t.is((await fetch(`${reg.url}/packages/acme/far/previous/65535.65535.65535`)).status, 404);
});

test('a version beyond the bounds already in the index, from before they were checked, breaks no later answer', async (t) => {
  const huge = '99999999999999999999.0.0';
  const legacy = await readBundle(Readable.from([bundle({ name: 'acme/legacy', version: huge })]), null);
  // As an older registry accepted it: validation then let any digits through.
  await reg.registry.deps.packages.publish({
    outline: { name: 'acme/legacy', version: huge, summary: 's', license: 'BSD-3-Clause', platform: 'common', exposedModules: ['Main'], grenVersion: parseRange('0.6.0 <= v < 0.7.0') as GrenRange, dependencies: {}, private: false, raw: legacy.outline },
    bundle: legacy,
    mayReadPrivate: () => false,
  });
  t.is((await expectJson(await call(reg.url, 'GET', '/packages/acme/legacy/latest'), 200)).version, huge);
  await expectError(await call(reg.url, 'GET', '/packages/acme/legacy/previous/1.0.0'), 404, 'no_matching_version', t);
  t.is((await put('acme/legacy', '2.0.0', bundle({ name: 'acme/legacy', version: '2.0.0' }))).status, 201);
  t.is((await expectJson(await call(reg.url, 'GET', '/packages/acme/legacy/previous/3.0.0'), 200)).version, '2.0.0');
  t.true((await fetch(`${reg.url}/packages`)).ok);
});

test('a few hundred bytes whose outline nests thousands of arrays: 422 invalid_bundle naming the field, nothing stored', async (t) => {
  const outline = JSON.stringify(outlineOf({ name: 'acme/amplified', version: '1.0.0' }));
  for (const depth of [4300, 200_000]) {
    const json = `{"outline":${outline.slice(0, -1)},"x":${'['.repeat(depth)}${']'.repeat(depth)}},"sources":{"Main":"module Main exposing (..)"}}`;
    const { message } = await expectError(await put('acme/amplified', '1.0.0', zlib.gzipSync(json)), 422, 'invalid_bundle', t);
    t.regex(message, /"x"/);
  }
  await expectError(await fetch(`${reg.url}/index/packages/acme/amplified/index.json`), 404, 'not_found', t);
});
