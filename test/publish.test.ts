import test from 'ava';
import { packagePaths } from '../gateway/packages/version-index.ts';
import { modulePath } from '../gateway/packages/source-tree.ts';
import crypto from 'node:crypto';
import path from 'node:path';
import zlib from 'node:zlib';
import { bundle, fixtures, type Fixture } from './helpers/bundle.ts';
import { claimedTarget, dependencyOrder, published, publisher, putBundle, revokeCall } from './helpers/fixtures.ts';
import { expectError, expectJson, startRegistryWithMail, type MailRegistry } from './helpers/accounts.ts';
import { fsck, gitBytes, gitCmd } from './helpers/git.ts';
import { tempDir } from './helpers/registry.ts';

const sha256 = (bytes: Uint8Array) => crypto.createHash('sha256').update(bytes).digest('hex');

/**
 * What the registry must answer for the fixtures that are not what their name says, sent to
 * the package and version their file name claims. Every other fixture is published (201).
 */
const refusals: Record<string, string> = {
  // Applications' outlines, though named after packages.
  'gren_lang_core__6_0_1.pkg.gz': 'invalid_bundle',
  'gren_lang_node__5_0_1.pkg.gz': 'invalid_bundle',
  'gren_lang_url__5_0_0.pkg.gz': 'invalid_bundle',
  // Holds version 5.0.1.
  'blaix_gren_effectful_tests__5_0_2.pkg.gz': 'version_mismatch',
  // Compiler 0.5 packages needing gren-lang/core 6, of which the fixtures hold no package.
  'gren_lang_node__5_0_2.pkg.gz': 'unknown_dependency',
  'gren_lang_test__4_1_0.pkg.gz': 'unknown_dependency',
  'gren_lang_test_runner_node__6_0_0.pkg.gz': 'unknown_dependency',
  'blaix_gren_ws4sql__2_0_0.pkg.gz': 'unknown_dependency',
  'blaix_gren_effectful_tests_node__4_1_0.pkg.gz': 'unknown_dependency',
};

let reg: MailRegistry;
let token: string;
test.before(async () => {
  // One maintainer publishes every fixture and then races dozens more: far past the publish limit's burst.
  reg = await startRegistryWithMail({ env: { PUBLISH_BURST: '1000' } });
  token = await publisher(reg, 'maintainer@example.com', ['gren-lang', 'blaix']);
});
test.after.always(() => reg?.close());

test.serial('every fixture, in dependency order: valid ones published, the others refused with their code', async (t) => {
  const all = fixtures();
  t.is(all.length, 33, 'the fixture set is the one this test was written against');
  const accepted: Array<{ fixture: Fixture; name: string; version: string; commit: string }> = [];
  for (const fixture of dependencyOrder(all)) {
    const { name, version } = claimedTarget(fixture);
    const res = await putBundle(reg.url, token, name, version, fixture.bytes);
    const code = refusals[fixture.file];
    if (code) {
      const { message } = await expectError(res, 422, code, t);
      t.log(`${fixture.file}: ${code}: ${message}`);
      continue;
    }
    const answer = await expectJson(res, 201);
    t.deepEqual(answer, { name, version, sha256: sha256(fixture.bytes), commit: answer.commit }, fixture.file);
    accepted.push({ fixture, name, version, commit: answer.commit });
  }
  t.is(accepted.length, all.length - Object.keys(refusals).length);

  // The bundle named 5.0.2 holds a valid 5.0.1: sent where it belongs, it is published.
  const mislabelled = all.find((f) => f.file === 'blaix_gren_effectful_tests__5_0_2.pkg.gz') as Fixture;
  const answer = await published(reg.url, token, 'blaix/gren-effectful-tests', '5.0.1', mislabelled.bytes);
  accepted.push({ fixture: mislabelled, name: 'blaix/gren-effectful-tests', version: '5.0.1', commit: answer.commit });

  for (const { fixture, name, version } of accepted) {
    const served = await fetch(`${reg.url}/index/packages/${name}/${version}/bundle.pkg.gz`);
    t.true(Buffer.from(await served.arrayBuffer()).equals(fixture.bytes), `${name} ${version}: the bundle is served byte for byte`);
    const outline = await expectJson(await fetch(`${reg.url}/index/packages/${name}/${version}/gren.json`), 200);
    t.deepEqual(outline, fixture.outline, `${name} ${version}: gren.json is the outline as published`);
    const index = await expectJson(await fetch(`${reg.url}/index/packages/${name}/index.json`), 200);
    const entry = index.versions.find((e: { version: string }) => e.version === version);
    t.like(entry, {
      'gren-version': fixture.outline['gren-version'],
      platform: fixture.outline.platform,
      dependencies: fixture.outline.dependencies,
      sha256: sha256(fixture.bytes),
      size: fixture.bytes.length,
      revoked: null,
    });
    t.false(Number.isNaN(Date.parse(entry.published)));
  }

  // Versions ascend in every index.json.
  const core = await expectJson(await fetch(`${reg.url}/index/packages/gren-lang/core/index.json`), 200);
  t.deepEqual(core.versions.map((e: { version: string }) => e.version), ['7.0.0', '7.1.0', '7.2.0', '7.2.1', '7.4.0']);

  // One commit per publish, named after it, carrying the metadata; history clones and checks clean.
  const clone = path.join(tempDir(), 'index');
  await gitCmd(['clone', '--quiet', `${reg.url}/index.git`, clone]);
  await fsck(path.join(clone, '.git'));
  for (const { name, version, commit } of accepted) {
    t.is((await gitCmd(['-C', clone, 'log', '-1', '--format=%s', commit])).trim(), `Publish ${name} ${version}`);
    const files = (await gitCmd(['-C', clone, 'diff-tree', '--no-commit-id', '--name-only', '-r', commit])).trim().split('\n').sort();
    t.deepEqual(files, [`packages/${name}/${version}/gren.json`, `packages/${name}/index.json`]);
  }
  // The content is on the package's refs: the bundle byte for byte, the source tree as the compiler reads it.
  const gitDir = reg.registry.deps.index.gitDir;
  for (const { fixture, name, version } of accepted) {
    const refs = packagePaths(name);
    const stored = await gitBytes(['--git-dir', gitDir, 'cat-file', 'blob', refs.bundleRef(version)]);
    t.true(stored.equals(fixture.bytes), `${name} ${version}: the bundle ref holds the bundle`);
    const tree = (await gitCmd(['--git-dir', gitDir, 'ls-tree', '-r', '--name-only', refs.tagRef(version)])).trim().split('\n').sort();
    const { sources } = JSON.parse(zlib.gunzipSync(fixture.bytes).toString('utf8')) as { sources: Record<string, string> };
    t.deepEqual(tree, ['gren.json', ...Object.keys(sources).map(modulePath)].sort(), `${name} ${version}: the tag holds gren.json and src/`);
  }
  const subjects = (await gitCmd(['-C', clone, 'log', '--format=%s'])).trim().split('\n');
  t.is(subjects.filter((s) => s.startsWith('Publish ')).length, accepted.length, 'no commit for a refused bundle');
});

test.serial('racing publishes of one version: exactly one wins, the others answer 409 version_exists', async (t) => {
  const bundles = Array.from({ length: 8 }, () => bundle({ name: 'blaix/race', version: '1.0.0', padding: 2000 }));
  const answers = await Promise.all(bundles.map((bytes) => putBundle(reg.url, token, 'blaix/race', '1.0.0', bytes)));
  const winners = answers.filter((res) => res.status === 201);
  t.is(winners.length, 1);
  for (const res of answers.filter((r) => r.status !== 201)) await expectError(res, 409, 'version_exists', t);
  const won = await expectJson(winners[0] as Response, 201);
  const index = await expectJson(await fetch(`${reg.url}/index/packages/blaix/race/index.json`), 200);
  t.is(index.versions.length, 1);
  t.is(index.versions[0].sha256, won.sha256);
  const served = Buffer.from(await (await fetch(`${reg.url}/index/packages/blaix/race/1.0.0/bundle.pkg.gz`)).arrayBuffer());
  t.is(sha256(served), won.sha256);
  const log = await gitCmd(['--git-dir', reg.registry.deps.index.gitDir, 'log', '--format=%s', 'main']);
  t.is(log.split('\n').filter((s) => s === 'Publish blaix/race 1.0.0').length, 1);
});

test.serial('racing publishes of different versions and packages all succeed, each its own commit', async (t) => {
  const targets = Array.from({ length: 12 }, (_, i) => ({ name: `blaix/many-${i % 3}`, version: `1.0.${i}` }));
  const answers = await Promise.all(targets.map(({ name, version }) => putBundle(reg.url, token, name, version, bundle({ name, version }))));
  const commits = new Set<string>();
  for (const res of answers) commits.add((await expectJson(res, 201)).commit);
  t.is(commits.size, targets.length);
  for (let i = 0; i < 3; i++) {
    const index = await expectJson(await fetch(`${reg.url}/index/packages/blaix/many-${i}/index.json`), 200);
    t.deepEqual(index.versions.map((e: { version: string }) => e.version), [0, 1, 2, 3].map((k) => `1.0.${k * 3 + i}`));
  }
});

test.serial('a publish and the revoke of its only matching dependency in one group commit: the publish sees the revoke', async (t) => {
  await published(reg.url, token, 'blaix/base', '1.0.0', bundle({ name: 'blaix/base', version: '1.0.0' }));
  // Hold the commit queue with a plan that waits, so that the revoke and the publish queue up behind it as one batch, the revoke first.
  let release!: () => void;
  const held = reg.registry.deps.index.update(() => new Promise<{ result: null }>((resolve) => (release = () => resolve({ result: null }))));
  const revoke = revokeCall(reg.url, token, 'blaix/base', '1.0.0', 'broken');
  await new Promise((resolve) => setTimeout(resolve, 100));
  const publish = putBundle(reg.url, token, 'blaix/dependent', '1.0.0', bundle({ name: 'blaix/dependent', version: '1.0.0', deps: { 'blaix/base': '1.0.0 <= v < 2.0.0' } }));
  await new Promise((resolve) => setTimeout(resolve, 100));
  release();
  await held;
  await expectJson(await revoke, 200);
  await expectError(await publish, 422, 'unknown_dependency', t);
  t.is((await fetch(`${reg.url}/index/packages/blaix/dependent/index.json`)).status, 404);
});
