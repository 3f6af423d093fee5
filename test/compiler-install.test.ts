import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { fixtureContent, fixtures, gzipJson, type BundleContent } from './helpers/bundle.ts';
import { applicationOutline, bundleFileName, exampleApplication, grenCompilerVersion, grenProject, packageOutline, thingSource } from './helpers/gren.ts';
import { packageRepositories } from './helpers/package-repos.ts';
import { gitCmd } from './helpers/git.ts';
import { startRegistryWithMail } from './helpers/accounts.ts';
import { publisher, published as publish, revokeCall } from './helpers/fixtures.ts';
import { dataPaths } from '../gateway/registry.ts';
import { withGitSettings, type GitSetting } from '../scripts/client/git-settings.ts';
import { tempDir } from './helpers/registry.ts';

/*
 * The real gren compiler (0.6.3's front end) installs packages from Git repositories laid out
 * as gateway/packages/source-tree.ts says, here bare repositories on disk reached through a
 * git URL rewrite, as it will reach the registry's. What it writes into gren_packages/ must
 * be exactly what was published.
 */


const published = {
  core: ['7.0.0', '7.2.0', '7.2.1', '7.4.0'].map((v) => fixtureContent('gren-lang/core', v)),
  node: ['6.0.0', '6.1.1'].map((v) => fixtureContent('gren-lang/node', v)),
  url: [fixtureContent('gren-lang/url', '6.0.0')],
};

/** Bare repositories of `versions` in a temporary folder, and the git settings that send GitHub URLs there. */
async function repositories(t: { teardown(fn: () => unknown): void }, versions: BundleContent[]): Promise<Record<string, string>> {
  const root = tempDir('gren-repos-');
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  await packageRepositories(root, versions);
  return gitSettings([{ key: `url.${pathToFileURL(root).href}/.insteadOf`, value: 'https://github.com/' }]);
}

/** `settings` as the environment variables git reads them from. */
function gitSettings(settings: GitSetting[]): Record<string, string> {
  return withGitSettings({}, settings) as Record<string, string>;
}

test('the harness runs the compiler front end the tests rely on', (t) => {
  t.is(grenCompilerVersion(), '0.6.3');
});

test('gren make of an application installs every dependency, each bundle exactly the published outline and sources', async (t) => {
  const env = await repositories(t, [...published.core, ...published.node, ...published.url]);
  const project = exampleApplication(t);
  const run = await project.run(['make', 'Main'], { env });
  t.is(run.code, 0, run.stdout + run.stderr);
  t.regex(run.stdout, /Starting downloads/);

  const expected = [fixtureContent('gren-lang/core', '7.4.0'), fixtureContent('gren-lang/node', '6.1.1'), fixtureContent('gren-lang/url', '6.0.0')];
  t.deepEqual([...run.bundles.keys()], ['gren_lang_core__7_4_0.pkg.gz', 'gren_lang_node__6_1_1.pkg.gz', 'gren_lang_url__6_0_0.pkg.gz']);
  for (const content of expected) {
    const written = run.bundles.get(bundleFileName(content.outline.name, content.outline.version));
    t.deepEqual(written?.outline, content.outline, `${content.outline.name}'s outline`);
    t.deepEqual(written?.sources, content.sources, `${content.outline.name}'s sources, kernel code included`);
  }
  t.true(Object.keys(expected[0]?.sources ?? {}).some((module) => module.startsWith('Gren.Kernel.')), 'kernel modules made the trip');

  t.is(run.backend?.command, 'make', 'the front end went on to code generation');
  t.deepEqual(run.backend?.['entry-points'], ['Main']);
  t.deepEqual(Object.keys(run.backend?.dependencies ?? {}).sort(), ['gren-lang/core', 'gren-lang/node', 'gren-lang/url']);
  t.deepEqual(run.backend?.dependencies?.['gren-lang/core']?.sources, expected[0]?.sources);
});

test('gren package install NAME in a package project takes the highest version tag it is shown, and installs its minor release', async (t) => {
  const shown = (...versions: string[]) => repositories(t, published.core.filter((c) => versions.includes(c.outline.version)));
  // The compiler writes the range `<major>.<minor>.0 <= v < <major + 1>.0.0` of the highest tag, then installs its lower bound.
  for (const [env, highest, installed] of [
    [await shown('7.0.0', '7.2.0', '7.2.1', '7.4.0'), '7.4.0', '7.4.0'],
    [await shown('7.0.0', '7.2.0', '7.2.1'), '7.2.1', '7.2.0'],
  ] as const) {
    const project = grenProject(t, { 'gren.json': packageOutline(), 'src/Thing.gren': thingSource });
    const run = await project.run(['package', 'install', 'gren-lang/core'], { env });
    t.is(run.code, 0, run.stdout + run.stderr);
    t.deepEqual(project.outline().dependencies, { 'gren-lang/core': `${installed} <= v < 8.0.0` }, `highest tag ${highest}`);
    t.deepEqual([...run.bundles.keys()], [bundleFileName('gren-lang/core', installed)]);
    t.deepEqual(run.bundles.get(bundleFileName('gren-lang/core', installed)), fixtureContent('gren-lang/core', installed));
    t.is(run.backend, null, 'installing never starts the back end');
  }
  const project = grenProject(t, { 'gren.json': packageOutline(), 'src/Thing.gren': thingSource });
  const run = await project.run(['package', 'install', 'gren-lang/core'], { env: await shown('7.0.0', '7.2.1') });
  t.not(run.code, 0, 'a highest tag whose minor release (7.2.0) is not shown cannot be installed this way');
  t.regex(run.stdout + run.stderr, /or version 7\.2\.0, doesn't exist/);
});

test('gren package install in a package project installs the lowest version of each range, whatever is newer', async (t) => {
  const env = await repositories(t, [...published.core, ...published.node, ...published.url]);
  const project = grenProject(t, {
    'gren.json': packageOutline({ 'gren-lang/core': '7.2.1 <= v < 8.0.0', 'gren-lang/url': '6.0.0 <= v < 7.0.0' }),
    'src/Thing.gren': thingSource,
  });
  const run = await project.run(['package', 'install'], { env });
  t.is(run.code, 0, run.stdout + run.stderr);
  t.deepEqual([...run.bundles.keys()], ['gren_lang_core__7_2_1.pkg.gz', 'gren_lang_url__6_0_0.pkg.gz']);
  t.deepEqual(run.bundles.get('gren_lang_url__6_0_0.pkg.gz'), fixtureContent('gren-lang/url', '6.0.0'));
});

test('a version without its tag does not install, and nothing of it is written', async (t) => {
  const env = await repositories(t, published.core.filter((c) => c.outline.version !== '7.2.1'));
  const project = grenProject(t, { 'gren.json': applicationOutline({ 'gren-lang/core': '7.2.1' }, {}, 'common'), 'src/Main.gren': thingSource.replace('Thing', 'Main') });
  const run = await project.run(['make', 'Main'], { env });
  t.not(run.code, 0);
  t.regex(run.stdout + run.stderr, /PROBLEM INSTALLING PACKAGE[\s\S]*couldn't find the correct version\s+of this package[\s\S]*version 7\.2\.1, doesn't exist/);
  t.is(run.bundles.size, 0);
  t.is(run.backend, null);
  t.false(fs.existsSync(path.join(project.home, '.cache', 'gren', '0.6.3', 'packages', 'gren-lang_core__7_2_1', 'gren.json')));
});

test('gren package install NAME fails once git ls-remote --tags prints more than 4096 bytes', async (t) => {
  const base = fixtureContent('gren-lang/core', '7.4.0');
  for (const [count, installs] of [
    [70, true],
    [71, false],
  ] as const) {
    const versions = Array.from({ length: count }, (_, minor) => ({ ...base, outline: { ...base.outline, version: `7.${minor}.0` } }));
    const env = await repositories(t, versions);
    const listed = await gitCmd(['ls-remote', '--tags', 'https://github.com/gren-lang/core.git'], { env: { ...process.env, ...env } });
    t.is(listed.length > 4096, !installs, `${count} tags: ${listed.length} bytes`);
    const project = grenProject(t, { 'gren.json': packageOutline(), 'src/Thing.gren': thingSource });
    const run = await project.run(['package', 'install', 'gren-lang/core'], { env });
    t.is(run.code === 0, installs, `${count} tags`);
    t.deepEqual(project.outline().dependencies, installs ? { 'gren-lang/core': `7.${count - 1}.0 <= v < 8.0.0` } : {});
  }
});

/** The package and version a fixture holds, by its outline. */
function nameAndVersion(file: string): [string, string] {
  const { outline } = fixtures().find((f) => f.file === file)!;
  return [outline.name, outline.version];
}

test('what the registry publishes, gren installs from its package repositories over HTTP: the latest for its version, never a revoked one', async (t) => {
  const reg = await startRegistryWithMail();
  t.teardown(() => reg.close());
  const token = await publisher(reg, 'robin@example.com', ['gren-lang']);
  const files = ['gren_lang_core__7_0_0.pkg.gz', 'gren_lang_core__7_4_0.pkg.gz', 'gren_lang_url__6_0_0.pkg.gz', 'gren_lang_node__6_1_1.pkg.gz'];
  for (const file of files) await publish(reg.url, token, ...nameAndVersion(file), fixtures().find((f) => f.file === file)!.bytes);
  // Each package's tags are in its namespace of the public repository, served over HTTP at
  // <registry>/git/gren-<compiler version>/<author>/<name>.git: the compiler reaches them there.
  const gitDir = dataPaths(reg.dataDir).publicGit;
  const env = gitSettings([{ key: `url.${reg.url}/git/gren-${grenCompilerVersion()}/.insteadOf`, value: 'https://github.com/' }]);

  const reference = tempDir('gren-reference-');
  t.teardown(() => fs.rmSync(reference, { recursive: true, force: true }));
  const built = await packageRepositories(reference, files.map((file) => fixtureContent(...nameAndVersion(file))));
  for (const [name, versions] of built) {
    for (const [version, { tree }] of versions) {
      const tag = `refs/namespaces/${name.replace('/', '/refs/namespaces/')}/refs/tags/${version}`;
      t.is((await gitCmd(['--git-dir', gitDir, 'rev-parse', `${tag}^{tree}`])).trim(), tree, `${name} ${version}: the registry's tag holds the reference tree`);
    }
  }

  const application = exampleApplication(t);
  const made = await application.run(['make', 'Main'], { env });
  t.is(made.code, 0, made.stdout + made.stderr);
  for (const content of [fixtureContent('gren-lang/core', '7.4.0'), fixtureContent('gren-lang/node', '6.1.1'), fixtureContent('gren-lang/url', '6.0.0')]) {
    t.deepEqual(made.bundles.get(bundleFileName(content.outline.name, content.outline.version)), content, content.outline.name);
  }
  // A higher version for the next compiler only: this compiler's view does not show it.
  const next = fixtureContent('gren-lang/core', '7.4.0');
  await publish(reg.url, token, 'gren-lang/core', '8.0.0', gzipJson({ outline: { ...next.outline, version: '8.0.0', 'gren-version': '0.7.0 <= v < 0.8.0' }, sources: next.sources }));
  const added = grenProject(t, { 'gren.json': packageOutline(), 'src/Thing.gren': thingSource });
  t.is((await added.run(['package', 'install', 'gren-lang/core'], { env })).code, 0);
  t.deepEqual(added.outline().dependencies, { 'gren-lang/core': '7.4.0 <= v < 8.0.0' }, 'the latest version for this compiler, not the highest');

  t.is((await revokeCall(reg.url, token, 'gren-lang/core', '7.0.0', 'legal takedown')).status, 200);
  const old = grenProject(t, { 'gren.json': applicationOutline({ 'gren-lang/core': '7.0.0' }, {}, 'common'), 'src/Main.gren': thingSource.replace('Thing', 'Main') });
  const refused = await old.run(['make', 'Main'], { env });
  t.not(refused.code, 0);
  t.regex(refused.stdout + refused.stderr, /or version 7\.0\.0, doesn't exist/);
  t.is(refused.bundles.size, 0);
});
