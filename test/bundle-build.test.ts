import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { buildBundle, BundleError, readBundleFile, type Bundle } from '../scripts/client/bundle.ts';
import { tempDir } from './helpers/registry.ts';
import { fixturesDir as fixtures, fixtures as realBundles } from './helpers/bundle.ts';

/** Writes a bundle's modules and gren.json into `folder` as a package's source tree, with gren.json's keys reversed. */
function unpack(bundle: Pick<Bundle, 'outline' | 'sources'>, folder: string): void {
  const shuffled = Object.fromEntries(Object.entries(bundle.outline).reverse());
  fs.mkdirSync(path.join(folder, 'src'), { recursive: true });
  fs.writeFileSync(path.join(folder, 'gren.json'), JSON.stringify(shuffled, null, 4) + '\n');
  for (const [name, source] of Object.entries(bundle.sources).reverse()) {
    const extension = name.startsWith('Gren.Kernel.') ? '.js' : '.gren';
    const file = path.join(folder, 'src', ...name.split('.')) + extension;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, source);
  }
}

function folderWith(t: { teardown(fn: () => void): void }, files: Record<string, string>): string {
  const dir = tempDir('gren-bundle-');
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), content);
  }
  return dir;
}

const outline = {
  type: 'package',
  platform: 'common',
  name: 'robin/example',
  summary: 'An example',
  license: 'BSD-3-Clause',
  version: '1.0.0',
  'exposed-modules': ['Example'],
  'gren-version': '0.6.0 <= v < 0.7.0',
  dependencies: {},
};

const packageFixtures = realBundles()
  .filter((fixture) => fixture.outline.type === 'package')
  .map((fixture) => fixture.file);

test('rebuilding every package fixture from its unpacked folder gives the same outline and sources, byte for byte', async (t) => {
  t.true(packageFixtures.length >= 25);
  for (const file of packageFixtures) {
    const original = await readBundleFile(path.join(fixtures, file));
    const folder = folderWith(t, {});
    unpack(original, folder);
    const rebuilt = await buildBundle(folder);
    t.deepEqual(rebuilt.outline, original.outline, file);
    t.deepEqual(rebuilt.sources, original.sources, file);
    const originalJson = zlib.gunzipSync(original.bytes).toString('utf8');
    t.is(zlib.gunzipSync(rebuilt.bytes).toString('utf8'), originalJson, `${file}: the JSON text, key order included`);
  }
});

test('kernel modules come from src/Gren/Kernel/*.js only; other files are left out', async (t) => {
  const folder = folderWith(t, {
    'gren.json': JSON.stringify(outline),
    'src/Example.gren': 'module Example exposing (..)\n',
    'src/Example/Deep/Inner.gren': 'module Example.Deep.Inner exposing (..)\n',
    'src/Gren/Kernel/Example.js': 'var _Example_x = 1;\n',
    'src/Gren/Kernel/Nested/Other.js': 'var ignored = 1;\n',
    'src/helper.js': 'ignored();\n',
    'src/README.md': '# not a module\n',
    'tests/Test.gren': 'module Test exposing (..)\n',
  });
  const bundle = await buildBundle(folder);
  t.deepEqual(Object.keys(bundle.sources), ['Example', 'Example.Deep.Inner', 'Gren.Kernel.Example']);
  t.is(bundle.sources['Gren.Kernel.Example'], 'var _Example_x = 1;\n');
});

test('the outline is written in the compiler order with sorted dependencies, and unknown keys such as private are kept', async (t) => {
  const folder = folderWith(t, {
    'gren.json': JSON.stringify({
      private: true,
      ...outline,
      dependencies: { 'gren-lang/url': '6.0.0 <= v < 7.0.0', 'gren-lang/core': '7.0.0 <= v < 8.0.0' },
      'exposed-modules': { Zeta: ['Example'], Alpha: [] },
    }),
    'src/Example.gren': 'module Example exposing (..)\n',
  });
  const bundle = await buildBundle(folder);
  t.deepEqual(Object.keys(bundle.outline), [...Object.keys(outline), 'private']);
  t.deepEqual(Object.keys(bundle.outline['dependencies'] as object), ['gren-lang/core', 'gren-lang/url']);
  t.deepEqual(Object.keys(bundle.outline['exposed-modules'] as object), ['Alpha', 'Zeta']);
  const decoded = JSON.parse(zlib.gunzipSync(bundle.bytes).toString('utf8'));
  t.is(decoded.outline.private, true);
});

test('folders that are not publishable packages are refused with a sentence naming the problem', async (t) => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ 'src/Example.gren': '' }, /has no gren\.json/],
    [{ 'gren.json': '{ not json' }, /gren\.json is not valid JSON/],
    [{ 'gren.json': '[1]' }, /must hold a JSON object/],
    [{ 'gren.json': JSON.stringify({ ...outline, type: 'application' }) }, /describes an application: only packages/],
    [{ 'gren.json': JSON.stringify(outline) }, /has no src folder/],
    [{ 'gren.json': JSON.stringify(outline), 'src/lower.gren': '' }, /src\/lower\.gren does not name a valid module/],
    [{ 'gren.json': JSON.stringify(outline), 'src/Bad-Name/Thing.gren': '' }, /does not name a valid module/],
  ];
  for (const [files, expected] of cases) {
    const error = await t.throwsAsync(buildBundle(folderWith(t, files)), { instanceOf: BundleError });
    t.regex(error.message, expected);
  }
  const binary = folderWith(t, { 'gren.json': JSON.stringify(outline) });
  fs.mkdirSync(path.join(binary, 'src'));
  fs.writeFileSync(path.join(binary, 'src', 'Example.gren'), Buffer.from([0x6d, 0xff, 0xfe]));
  const error = await t.throwsAsync(buildBundle(binary), { instanceOf: BundleError });
  t.regex(error.message, /src\/Example\.gren is not valid UTF-8/);
});

test('a bundle file is read as it is, and a file that is not a bundle is refused', async (t) => {
  const file = path.join(fixtures, 'gren_lang_url__6_0_0.pkg.gz');
  const bundle = await readBundleFile(file);
  t.deepEqual(bundle.bytes, fs.readFileSync(file));
  t.is(bundle.outline['name'], 'gren-lang/url');
  const folder = folderWith(t, { 'plain.pkg.gz': 'not gzip', 'array.pkg.gz': '' });
  fs.writeFileSync(path.join(folder, 'array.pkg.gz'), zlib.gzipSync('[]'));
  for (const name of ['plain.pkg.gz', 'array.pkg.gz']) {
    const error = await t.throwsAsync(readBundleFile(path.join(folder, name)), { instanceOf: BundleError });
    t.regex(error.message, /is not a bundle/);
  }
});
