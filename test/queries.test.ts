import test from 'ava';
import { bundle, fixtures } from './helpers/bundle.ts';
import { published, publisher, revokeCall } from './helpers/fixtures.ts';
import { call, expectError, expectJson, startRegistryWithMail, type MailRegistry } from './helpers/accounts.ts';

let reg: MailRegistry;
let token: string;
const real = new Map(fixtures().map((f) => [f.file, f.bytes]));
const fixture = (file: string) => {
  const bytes = real.get(file);
  if (!bytes) throw new Error(`no fixture ${file}`);
  return bytes;
};

/**
 * Versions from two compiler generations. The fixtures' 0.5 packages need gren-lang/core 6
 * and gren-lang/url 5, which the fixtures only hold as applications: those two are built here.
 */
test.before(async () => {
  reg = await startRegistryWithMail();
  token = await publisher(reg, 'maintainer@example.com', ['gren-lang', 'blaix']);
  const gren05 = '0.5.0 <= v < 0.6.0';
  await published(reg.url, token, 'gren-lang/core', '6.0.1', bundle({ name: 'gren-lang/core', version: '6.0.1', gren: gren05, summary: "Gren's core modules" }));
  await published(reg.url, token, 'gren-lang/url', '5.0.0', bundle({ name: 'gren-lang/url', version: '5.0.0', gren: gren05, deps: { 'gren-lang/core': '6.0.0 <= v < 7.0.0' } }));
  for (const [name, file] of [
    ['gren-lang/core', 'gren_lang_core__7_0_0.pkg.gz'],
    ['gren-lang/core', 'gren_lang_core__7_2_1.pkg.gz'],
    ['gren-lang/core', 'gren_lang_core__7_4_0.pkg.gz'],
    ['gren-lang/url', 'gren_lang_url__6_0_0.pkg.gz'],
    ['gren-lang/node', 'gren_lang_node__5_0_2.pkg.gz'],
    ['gren-lang/node', 'gren_lang_node__6_0_0.pkg.gz'],
    ['gren-lang/node', 'gren_lang_node__6_1_1.pkg.gz'],
    ['gren-lang/test', 'gren_lang_test__4_1_0.pkg.gz'],
    ['gren-lang/test', 'gren_lang_test__5_0_0.pkg.gz'],
    ['gren-lang/test-runner-node', 'gren_lang_test_runner_node__6_0_0.pkg.gz'],
    ['gren-lang/test-runner-node', 'gren_lang_test_runner_node__7_0_0.pkg.gz'],
    ['blaix/gren-effectful-tests-node', 'blaix_gren_effectful_tests_node__4_1_0.pkg.gz'],
    ['blaix/gren-effectful-tests-node', 'blaix_gren_effectful_tests_node__5_0_1.pkg.gz'],
  ] as const) {
    const version = /__(\d+)_(\d+)_(\d+)/.exec(file)?.slice(1).join('.') as string;
    await published(reg.url, token, name, version, fixture(file));
  }
});
test.after.always(() => reg?.close());

const latest = async (name: string, gren?: string) =>
  (await expectJson(await call(reg.url, 'GET', `/packages/${name}/latest${gren ? `?gren=${gren}` : ''}`), 200)).version;
const previous = async (name: string, version: string) => (await expectJson(await call(reg.url, 'GET', `/packages/${name}/previous/${version}`), 200)).version;

test('latest?gren= picks the greatest version made for that compiler', async (t) => {
  t.is(await latest('gren-lang/core', '0.5.2'), '6.0.1');
  t.is(await latest('gren-lang/core', '0.6.0'), '7.4.0');
  t.is(await latest('gren-lang/core', '0.6.3'), '7.4.0');
  t.is(await latest('gren-lang/node', '0.5.0'), '5.0.2');
  t.is(await latest('gren-lang/node', '0.6.1'), '6.1.1');
  t.is(await latest('gren-lang/test-runner-node', '0.5.4'), '6.0.0');
  t.is(await latest('gren-lang/test-runner-node', '0.6.0'), '7.0.0');
});

test('latest without gren is the greatest version of any generation', async (t) => {
  t.is(await latest('gren-lang/core'), '7.4.0');
  t.is(await latest('gren-lang/node'), '6.1.1');
});

test("the bounds of a package's gren-version range are honoured: 0.5.2 <= v < 0.6.0", async (t) => {
  // blaix/gren-effectful-tests-node 4.1.0 needs 0.5.2 or later, below 0.6.0.
  t.is(await latest('blaix/gren-effectful-tests-node', '0.5.2'), '4.1.0');
  await expectError(await call(reg.url, 'GET', '/packages/blaix/gren-effectful-tests-node/latest?gren=0.5.1'), 404, 'no_matching_version', t);
  t.is(await latest('blaix/gren-effectful-tests-node', '0.6.0'), '5.0.1');
});

test('no version for that compiler: 404 no_matching_version', async (t) => {
  await expectError(await call(reg.url, 'GET', '/packages/gren-lang/core/latest?gren=0.7.0'), 404, 'no_matching_version', t);
  await expectError(await call(reg.url, 'GET', '/packages/gren-lang/core/latest?gren=0.4.9'), 404, 'no_matching_version', t);
});

test('previous: the greatest version below one, published or not, across generations', async (t) => {
  t.is(await previous('gren-lang/core', '7.4.0'), '7.2.1');
  t.is(await previous('gren-lang/core', '7.3.0'), '7.2.1');
  t.is(await previous('gren-lang/core', '7.0.0'), '6.0.1');
  t.is(await previous('gren-lang/core', '100.0.0'), '7.4.0');
  await expectError(await call(reg.url, 'GET', '/packages/gren-lang/core/previous/6.0.1'), 404, 'no_matching_version', t);
});

test('malformed queries: 400 invalid_request; unknown package: 404 not_found', async (t) => {
  await expectError(await call(reg.url, 'GET', '/packages/gren-lang/core/latest?gren=0.6'), 400, 'invalid_request', t);
  await expectError(await call(reg.url, 'GET', '/packages/gren-lang/core/previous/7.x'), 400, 'invalid_request', t);
  await expectError(await call(reg.url, 'GET', '/packages/gren-lang/nothing/latest'), 404, 'not_found', t);
  await expectError(await call(reg.url, 'GET', '/packages/gren-lang/nothing/previous/1.0.0'), 404, 'not_found', t);
});

test.serial('revoked versions are skipped by latest and previous', async (t) => {
  await published(reg.url, token, 'gren-lang/parser', '6.1.0', fixture('gren_lang_parser__6_1_0.pkg.gz'));
  await published(reg.url, token, 'gren-lang/parser', '6.1.1', fixture('gren_lang_parser__6_1_1.pkg.gz'));
  await published(reg.url, token, 'gren-lang/parser', '6.2.0', fixture('gren_lang_parser__6_2_0.pkg.gz'));
  await expectJson(await revokeCall(reg.url, token, 'gren-lang/parser', '6.2.0', 'bad'), 200);
  t.is(await latest('gren-lang/parser', '0.6.0'), '6.1.1');
  await expectJson(await revokeCall(reg.url, token, 'gren-lang/parser', '6.1.0', 'bad'), 200);
  t.is(await previous('gren-lang/parser', '6.2.0'), '6.1.1');
  await expectError(await call(reg.url, 'GET', '/packages/gren-lang/parser/previous/6.1.1'), 404, 'no_matching_version', t);
});

test.serial('GET /packages lists public packages with summary, latest and versions; ETag gives 304', async (t) => {
  const res = await call(reg.url, 'GET', '/packages');
  const list = await expectJson(res, 200);
  t.deepEqual(
    list.map((p: { name: string }) => p.name),
    [
      'blaix/gren-effectful-tests-node',
      'gren-lang/core',
      'gren-lang/node',
      'gren-lang/parser',
      'gren-lang/test',
      'gren-lang/test-runner-node',
      'gren-lang/url',
    ],
  );
  t.deepEqual(list[1], { name: 'gren-lang/core', summary: "Gren's core modules", latest: '7.4.0', versions: ['6.0.1', '7.0.0', '7.2.1', '7.4.0'] });
  t.deepEqual(list[2], { name: 'gren-lang/node', summary: 'Run Gren on NodeJS', latest: '6.1.1', versions: ['5.0.2', '6.0.0', '6.1.1'] });
  const etag = res.headers.get('etag') as string;
  t.is((await fetch(`${reg.url}/packages`, { headers: { 'If-None-Match': etag } })).status, 304);
  await published(reg.url, token, 'gren-lang/compiler-common', '1.0.0', fixture('gren_lang_compiler_common__1_0_0.pkg.gz'));
  const after = await fetch(`${reg.url}/packages`, { headers: { 'If-None-Match': etag } });
  t.is(after.status, 200, 'a publish changes the listing');
  t.true(((await after.json()) as Array<{ name: string }>).some((p) => p.name === 'gren-lang/compiler-common'));
});

test.serial('after a restart the same answers come from the repositories', async (t) => {
  const listing = await expectJson(await call(reg.url, 'GET', '/packages'), 200);
  const dataDir = reg.dataDir;
  await reg.close();
  reg = await startRegistryWithMail({ dataDir });
  t.deepEqual(await expectJson(await call(reg.url, 'GET', '/packages'), 200), listing);
  t.is(await latest('gren-lang/core', '0.5.1'), '6.0.1');
  t.is(await latest('gren-lang/parser', '0.6.0'), '6.1.1');
});
