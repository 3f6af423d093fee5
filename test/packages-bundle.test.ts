import test from 'ava';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import crypto from 'node:crypto';
import { ApiError } from '../gateway/errors.ts';
import { readBundle } from '../gateway/packages/bundle.ts';
import { validateOutline } from '../gateway/packages/outline.ts';
import { outlineFile } from '../gateway/packages/publish.ts';
import { bundle, claimedVersion, fixtures, gzipJson, outlineOf, type BundleSpec } from './helpers/bundle.ts';

const limits = { compressedBytes: 64 * 1024, decompressedBytes: 256 * 1024 };

/** A body that hands out `bytes` in chunks, as a request does. */
function body(bytes: Buffer, chunk = 16 * 1024): Readable {
  return Readable.from((function* () {
    for (let at = 0; at < bytes.length; at += chunk) yield bytes.subarray(at, at + chunk);
  })());
}

async function refusal(promise: Promise<unknown> | (() => unknown)): Promise<{ code: string; message: string }> {
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (err) {
    if (err instanceof ApiError) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected a refusal');
}

test('reads a bundle: the bytes as sent, their SHA-256, the outline and the sources', async (t) => {
  const bytes = bundle({ name: 'alice/tools', version: '1.0.0', exposed: ['Tools', 'Tools.Text'] });
  const read = await readBundle(body(bytes, 100), bytes.length);
  t.true(read.bytes.equals(bytes));
  t.is(read.size, bytes.length);
  t.is(read.sha256, crypto.createHash('sha256').update(bytes).digest('hex'));
  t.is(read.outline.name, 'alice/tools');
  t.deepEqual(Object.keys(read.sources).sort(), ['Tools', 'Tools.Text']);
});

test('every fixture reads, with bytes kept exactly', async (t) => {
  for (const fixture of fixtures()) {
    const read = await readBundle(body(fixture.bytes), null);
    t.true(read.bytes.equals(fixture.bytes), fixture.file);
    t.deepEqual(read.outline, fixture.outline, fixture.file);
  }
});

test('over the compressed limit: 413, by declared length or while reading', async (t) => {
  const big = crypto.randomBytes(limits.compressedBytes + 1);
  t.is((await refusal(readBundle(body(big), big.length, limits))).code, 'too_large');
  let pulled = 0;
  const endless = new Readable({
    read() {
      pulled += 16 * 1024;
      this.push(crypto.randomBytes(16 * 1024));
    },
  }).pipe(zlib.createGzip());
  const refused = await refusal(readBundle(endless, null, limits));
  t.is(refused.code, 'too_large');
  t.regex(refused.message, /as sent/);
  t.true(pulled < limits.compressedBytes + 256 * 1024, `read ${pulled} bytes of an endless body: only stream buffers past the limit`);
  t.false(endless.destroyed, 'the body stays open so that the refusal can be answered');
});

test('a decompression bomb stops at the decompressed limit, long before it is inflated', async (t) => {
  const bomb = zlib.gzipSync(Buffer.alloc(200 * 1024 * 1024));
  t.true(bomb.length < 300 * 1024, 'the bomb is small');
  const before = process.memoryUsage().rss;
  const refused = await refusal(readBundle(body(bomb), bomb.length, { compressedBytes: 10 * 1024 * 1024, decompressedBytes: 50 * 1024 * 1024 }));
  t.is(refused.code, 'too_large');
  t.regex(refused.message, /decompressed/);
  t.true(process.memoryUsage().rss - before < 150 * 1024 * 1024, 'memory stayed well under the inflated size');
});

test('not gzip, not JSON, no outline, no sources: 422 invalid_bundle', async (t) => {
  const cases: Array<[string, Buffer]> = [
    ['empty', Buffer.alloc(0)],
    ['plain JSON', Buffer.from(JSON.stringify({ outline: {}, sources: {} }))],
    ['truncated gzip', bundle({ name: 'alice/tools', version: '1.0.0' }).subarray(0, 40)],
    ['gzip of text', zlib.gzipSync('module Main exposing (..)')],
    ['gzip of a list', gzipJson([1, 2])],
    ['no outline', gzipJson({ sources: {} })],
    ['no sources', gzipJson({ outline: outlineOf({ name: 'alice/tools', version: '1.0.0' }) })],
    ['sources not text', gzipJson({ outline: outlineOf({ name: 'alice/tools', version: '1.0.0' }), sources: { Main: 3 } })],
  ];
  for (const [what, bytes] of cases) {
    t.is((await refusal(readBundle(body(bytes), bytes.length, limits))).code, 'invalid_bundle', what);
  }
});

const expected = { name: 'alice/tools', version: '1.2.3' };
const spec = (over: Partial<BundleSpec> = {}): BundleSpec => ({ ...expected, ...over });
async function validate(s: BundleSpec) {
  const read = await readBundle(body(bundle(s)), null);
  return () => validateOutline(read.outline, expected, read.sources);
}

test('a valid outline is read field by field', async (t) => {
  const outline = (await validate(spec({ deps: { 'gren-lang/core': '7.0.0 <= v < 8.0.0' }, platform: 'node', private: true })))();
  t.like(outline, { name: 'alice/tools', version: '1.2.3', platform: 'node', private: true, license: 'BSD-3-Clause', exposedModules: ['Main'] });
  t.is(outline.grenVersion.text, '0.6.0 <= v < 0.7.0');
  t.deepEqual(Object.keys(outline.dependencies), ['gren-lang/core']);
});

test('exposed-modules as lists by category', async (t) => {
  const outline = (await validate(spec({ exposed: { Text: ['Tools.Text'], Numbers: ['Tools.Int', 'Tools.Float'] } })))();
  t.deepEqual(outline.exposedModules, ['Tools.Text', 'Tools.Int', 'Tools.Float']);
});

test('each refusal of an outline has its code and names the field', async (t) => {
  const cases: Array<[string, BundleSpec, string, RegExp]> = [
    ['application', spec({ outline: { type: 'application' } }), 'invalid_bundle', /type/],
    ['no type', spec({ outline: { type: undefined } }), 'invalid_bundle', /type/],
    ['other name', spec({ name: 'alice/other' }), 'name_mismatch', /alice\/other/],
    ['other version', spec({ version: '1.2.4' }), 'version_mismatch', /1\.2\.4/],
    ['no name', spec({ outline: { name: undefined } }), 'invalid_outline', /"name"/],
    ['no summary', spec({ outline: { summary: undefined } }), 'invalid_outline', /"summary"/],
    ['long summary', spec({ summary: 'x'.repeat(81) }), 'invalid_outline', /"summary"/],
    ['no license', spec({ outline: { license: undefined } }), 'invalid_outline', /"license"/],
    ['bad license', spec({ license: 'see file <LICENSE>' }), 'invalid_outline', /"license"/],
    ['bad platform', spec({ platform: 'deno' }), 'invalid_outline', /"platform"/],
    ['no platform', spec({ outline: { platform: undefined } }), 'invalid_outline', /"platform"/],
    ['bad gren-version', spec({ gren: '0.6.0' }), 'invalid_outline', /"gren-version"/],
    ['no gren-version', spec({ outline: { 'gren-version': undefined } }), 'invalid_outline', /"gren-version"/],
    ['bad dependency range', spec({ deps: { 'gren-lang/core': '7.0.0 <= v' } }), 'invalid_outline', /gren-lang\/core/],
    ['bad dependency name', spec({ deps: { 'Gren-Lang/Core': '7.0.0 <= v < 8.0.0' } }), 'invalid_outline', /Gren-Lang\/Core/],
    ['depends on itself', spec({ deps: { 'alice/tools': '1.0.0 <= v < 2.0.0' } }), 'invalid_outline', /itself/],
    ['dependencies not an object', spec({ outline: { dependencies: ['gren-lang/core'] } }), 'invalid_outline', /"dependencies"/],
    ['exposed missing from sources', spec({ sources: {}, outline: { 'exposed-modules': ['Main', 'Gone'] } }), 'invalid_outline', /Gone/],
    ['bad module name', spec({ outline: { 'exposed-modules': ['main'] } }), 'invalid_outline', /"main"/],
    ['bad module name in a category', spec({ outline: { 'exposed-modules': { Text: ['Tools..Text'] } } }), 'invalid_outline', /Text/],
    ['no exposed modules', spec({ exposed: [] }), 'invalid_outline', /"exposed-modules"/],
    ['exposed-modules not a list', spec({ outline: { 'exposed-modules': 'Main' } }), 'invalid_outline', /"exposed-modules"/],
    ['private not a boolean', spec({ outline: { private: 'yes' } }), 'invalid_outline', /"private"/],
  ];
  for (const [what, s, code, names] of cases) {
    const refused = await refusal(await validate(s));
    t.is(refused.code, code, what);
    t.regex(refused.message, names, what);
  }
});

test('a summary of exactly 80 characters, counted as characters, is fine', async (t) => {
  t.notThrows(await validate(spec({ summary: 'é'.repeat(80) })));
});

test('the fixtures: packages validate against their own name and version, applications are refused', async (t) => {
  for (const fixture of fixtures()) {
    const read = await readBundle(body(fixture.bytes), null);
    const own = { name: String(fixture.outline.name), version: String(fixture.outline.version) };
    if (fixture.outline.type === 'package') {
      t.notThrows(() => validateOutline(read.outline, own, read.sources), fixture.file);
      if (claimedVersion(fixture.file) !== own.version) {
        const refused = await refusal(() => validateOutline(read.outline, { ...own, version: claimedVersion(fixture.file) }, read.sources));
        t.is(refused.code, 'version_mismatch', fixture.file);
      }
    } else {
      t.is((await refusal(() => validateOutline(read.outline, own, read.sources))).code, 'invalid_bundle', fixture.file);
    }
  }
});

/** `n` arrays nested in one another, as JSON text. */
const nested = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;

/** A gzip'd bundle whose outline carries `field` with the JSON text `value`, spliced in as it is. */
function withRawField(field: string, value: string, over: Partial<BundleSpec> = {}): Buffer {
  const outline = JSON.stringify(outlineOf(spec(over)));
  const json = `{"outline":${outline.slice(0, -1)},${JSON.stringify(field)}:${value}},"sources":{"Main":"module Main exposing (..)"}}`;
  return zlib.gzipSync(json);
}

test('an outline field the compiler does not know is refused with invalid_bundle, naming it', async (t) => {
  for (const [field, value] of [['homepage', '"https://example.com"'], ['extra', nested(4300)], ['deep', nested(200_000)], ['__proto__', '{}']] as const) {
    const bytes = withRawField(field, value);
    const refused = await refusal(async () => {
      const read = await readBundle(body(bytes), null);
      validateOutline(read.outline, expected, read.sources);
    });
    t.is(refused.code, 'invalid_bundle', field);
    t.true(refused.message.includes(`"${field}"`), `${field}: ${refused.message}`);
  }
});

test('the amplification bundle: a few hundred bytes, refused as it is read, before anything is parsed or re-indented', async (t) => {
  const bytes = withRawField('x', nested(4300));
  t.true(bytes.length < 400, `${bytes.length} bytes`);
  const refused = await refusal(readBundle(body(bytes), null));
  t.is(refused.code, 'invalid_bundle');
  t.regex(refused.message, /"x" nests deeper/);
});

test('deep or odd values in known fields are refused naming the field, never thrown as a RangeError', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['exposed-modules', nested(100_000), /exposed-modules/],
    ['dependencies', `{"gren-lang/core":${nested(50)}}`, /dependencies/],
    ['gren-version', nested(10), /gren-version/],
    ['platform', nested(10), /platform/],
    ['summary', `"${'\\ud800'}"`, /summary/],
  ];
  for (const [field, value, names] of cases) {
    const bytes = withRawField(field, value);
    const refused = await refusal(async () => {
      const read = await readBundle(body(bytes), null);
      validateOutline(read.outline, expected, read.sources);
    });
    t.true(['invalid_bundle', 'invalid_outline'].includes(refused.code), `${field}: ${refused.code}`);
    t.regex(refused.message, names, field);
    t.true(refused.message.length < 400, `${field}: the message quotes a bounded part of the value`);
  }
});

test('an outline over 64 KiB is refused, and what is stored from one under it stays within 5 times its size', async (t) => {
  const many = Array.from({ length: 20_000 }, (_, i) => `gren-lang/p${i}`);
  const big = Object.fromEntries(many.map((name) => [name, '1.0.0 <= v < 2.0.0']));
  const refused = await refusal(async () => {
    const read = await readBundle(body(bundle(spec({ deps: big }))), null);
    validateOutline(read.outline, expected, read.sources);
  });
  t.is(refused.code, 'invalid_bundle');
  t.regex(refused.message, /outline/);
  // The worst case for re-indentation: as many one-letter modules, by category, as fit.
  const letters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  const names = Array.from({ length: 26 * 26 * 4 }, (_, i) => `${letters[i % 26]}${letters[Math.floor(i / 26) % 26]}${'x'.repeat(Math.floor(i / 676))}`);
  const exposed = { A: names.slice(0, 1000), B: names.slice(1000, 2000) };
  const read = await readBundle(body(bundle(spec({ exposed }))), null);
  const outline = validateOutline(read.outline, expected, read.sources);
  const stored = outlineFile(outline.raw);
  const compact = Buffer.byteLength(JSON.stringify(read.outline));
  t.true(compact <= 64 * 1024, `${compact} bytes`);
  t.true(stored.length <= 5 * compact, `${stored.length} bytes stored for an outline of ${compact}`);
});

test('sources: module names, well-formed text, counts and sizes are checked, each refusal naming the module', async (t) => {
  const outline = outlineOf(spec());
  const main = 'module Main exposing (..)';
  const cases: Array<[string, Buffer, RegExp]> = [
    ['a path for a name', gzipJson({ outline, sources: { Main: main, 'Tools/Text': 'x' } }), /Tools\/Text/],
    ['a lowercase name', gzipJson({ outline, sources: { Main: main, 'main.helpers': 'x' } }), /main\.helpers/],
    ['names differing only in case', gzipJson({ outline, sources: { Main: main, 'Tools.Text': 'x', 'Tools.TEXT': 'y' } }), /Tools\.TEXT/],
    ['a lone surrogate', zlib.gzipSync(`{"outline":${JSON.stringify(outline)},"sources":{"Main":"module Main \\udc00"}}`), /Main/],
    ['bytes that are not UTF-8', zlib.gzipSync(Buffer.concat([Buffer.from(`{"outline":${JSON.stringify(outline)},"sources":{"Main":"`), Buffer.from([0xff, 0xfe]), Buffer.from('"}}')])), /UTF-8/],
    ['too many modules', gzipJson({ outline, sources: Object.fromEntries(Array.from({ length: 2001 }, (_, i) => [i === 0 ? 'Main' : `M${i}`, ''])) }), /2,?000/],
    ['a module over 8 MiB', gzipJson({ outline, sources: { Main: main, Huge: 'x'.repeat(8 * 1024 * 1024 + 1) } }), /Huge/],
    ['another top-level field', gzipJson({ outline, sources: { Main: main }, extra: [1, 2, 3] }), /"extra"/],
  ];
  for (const [what, bytes, names] of cases) {
    const refused = await refusal(readBundle(body(bytes), null));
    t.is(refused.code, 'invalid_bundle', what);
    t.regex(refused.message, names, what);
  }
});

test('a bundle of a million tiny values is refused before it is parsed, in bounded memory', async (t) => {
  const outline = JSON.stringify(outlineOf(spec()));
  const values = `[${'0,'.repeat(20 * 1024 * 1024)}0]`;
  const bytes = zlib.gzipSync(`{"outline":${outline},"sources":{"Main":"module Main exposing (..)"},"x":${values}}`);
  const before = process.memoryUsage().rss;
  const refused = await refusal(readBundle(body(bytes), null));
  t.is(refused.code, 'invalid_bundle');
  t.true(process.memoryUsage().rss - before < 150 * 1024 * 1024, 'parsing 20 million numbers would take several hundred MiB');
});
