import test from 'ava';
import fc from 'fast-check';
import zlib from 'node:zlib';
import { Readable } from 'node:stream';
import { ApiError, catalog } from '../gateway/errors.ts';
import { readBundle } from '../gateway/packages/bundle.ts';
import { outlineFields, validateOutline } from '../gateway/packages/outline.ts';
import { outlineFile } from '../gateway/packages/publish.ts';
import { compareVersions, inRange, isVersion, maxVersionNumber, parseRange } from '../gateway/packages/range.ts';
import { gzipJson, outlineOf } from './helpers/bundle.ts';
import { startRegistry, type TestRegistry } from './helpers/registry.ts';

// Every input, however odd, gets a success or a coded 4xx: never an exception a client would
// see as a 500, never a hang (each run has a time limit), never memory past the limits.

const mib = 1024 * 1024;
const runs = { numRuns: 300, timeout: 5000 };

/** Runs `attempt`; a catalog 4xx counts as an answer, anything else thrown fails the property. */
async function answered(attempt: () => unknown): Promise<{ ok: true; value: unknown } | { ok: false; code: string }> {
  try {
    return { ok: true, value: await attempt() };
  } catch (err) {
    if (err instanceof ApiError && err.status >= 400 && err.status < 500 && catalog[err.code].status === err.status) return { ok: false, code: err.code };
    throw err;
  }
}

// --- Versions and ranges -------------------------------------------------------------------

/** Numbers as text, from small to far beyond 2^53, with or without leading zeros. */
const number = fc.oneof(
  fc.nat({ max: 70_000 }).map(String),
  fc.bigInt({ min: 0n, max: 10n ** 30n }).map(String),
  fc.nat({ max: 99 }).map((n) => `0${n}`),
);
const versionText = fc.oneof(fc.tuple(number, number, number).map((parts) => parts.join('.')), fc.string({ maxLength: 30 }));
const op = fc.constantFrom('<', '<=', '>', '>=', '=', '');
const rangeText = fc.oneof(
  fc.tuple(versionText, op, op, versionText).map(([low, a, b, high]) => `${low} ${a} v ${b} ${high}`),
  fc.string({ maxLength: 60 }),
);

/** The oracle: three numbers written without leading zeros, each at most 65535. */
const wellFormed = (text: string) => {
  const parts = text.split('.');
  return parts.length === 3 && parts.every((p) => /^(0|[1-9]\d*)$/.test(p) && BigInt(p) <= BigInt(maxVersionNumber));
};

test('any text: isVersion says exactly whether it is three numbers of at most 65535, and never throws', (t) => {
  fc.assert(fc.property(versionText, (text) => isVersion(text) === wellFormed(text)), { numRuns: 3000 });
  t.pass();
});

test('any text: parseRange answers a range of well-formed bounds or null; inRange and compareVersions never throw', (t) => {
  fc.assert(
    fc.property(rangeText, versionText, versionText, (text, a, b) => {
      const range = parseRange(text);
      if (range !== null && (!wellFormed(range.low) || !wellFormed(range.high))) return false;
      if (range !== null) inRange(a, range);
      const order = compareVersions(a, b);
      return Number.isInteger(order) && Math.sign(order) === -Math.sign(compareVersions(b, a));
    }),
    { numRuns: 3000 },
  );
  t.pass();
});

test('versions of any size compare as their numbers do', (t) => {
  const exact = fc.tuple(fc.bigInt({ min: 0n, max: 10n ** 25n }), fc.bigInt({ min: 0n, max: 10n ** 25n }), fc.bigInt({ min: 0n, max: 10n ** 25n }));
  fc.assert(
    fc.property(exact, exact, (x, y) => {
      const byNumbers = x[0] !== y[0] ? (x[0] < y[0] ? -1 : 1) : x[1] !== y[1] ? (x[1] < y[1] ? -1 : 1) : x[2] !== y[2] ? (x[2] < y[2] ? -1 : 1) : 0;
      return Math.sign(compareVersions(x.join('.'), y.join('.'))) === byNumbers;
    }),
    { numRuns: 2000 },
  );
  t.pass();
});

// --- The bundle reader and the outline's validation ----------------------------------------

const expected = { name: 'acme/tool', version: '1.0.0' };
const validOutline = outlineOf(expected);
const moduleName = fc.oneof(fc.constantFrom('Main', 'Json.Decode', 'Gren.Kernel.Json', 'A.B.C'), fc.string({ maxLength: 20 }));
const sources = fc.dictionary(moduleName, fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), fc.jsonValue({ maxDepth: 3 })), { maxKeys: 5 });

/** The valid outline with up to three fields, known or not, replaced by anything. */
const outline = fc
  .dictionary(fc.oneof(fc.constantFrom(...outlineFields), fc.string({ maxLength: 12 })), fc.oneof(fc.jsonValue({ maxDepth: 4 }), versionText, rangeText), { maxKeys: 3 })
  .map((over) => ({ ...validOutline, ...over }));

/** Arrays or objects nested `depth` deep, as JSON text (built as text: JSON.stringify would overflow). */
const nested = fc.tuple(fc.integer({ min: 1, max: 300_000 }), fc.boolean()).map(([depth, arrays]) => (arrays ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`));

/** Bombs, built once: gzip of zeros and of a million tiny values, past the decompressed limit or just under it. */
const bombs = [
  zlib.gzipSync(Buffer.alloc(51 * mib)),
  zlib.gzipSync(`{"outline":${JSON.stringify(validOutline)},"sources":{"Main":"${' '.repeat(49 * mib)}"}}`),
  zlib.gzipSync(`{"outline":${JSON.stringify(validOutline)},"sources":{"Main":""},"x":[${'0,'.repeat(5 * mib)}0]}`),
];

const anyUpload: fc.Arbitrary<Buffer> = fc.oneof(
  fc.uint8Array({ maxLength: 2000 }).map((bytes) => Buffer.from(bytes)),
  fc.uint8Array({ maxLength: 2000 }).map((bytes) => zlib.gzipSync(bytes)),
  fc.jsonValue({ maxDepth: 6 }).map((value) => gzipJson(value)),
  fc.string({ unit: 'binary', maxLength: 500 }).map((text) => zlib.gzipSync(text)),
  fc.record({ outline, sources }).map((content) => gzipJson(content)),
  fc.record({ outline, sources }).map((content) => gzipJson(content)),
  outline.map((o) => gzipJson({ outline: o, sources: { Main: 'module Main exposing (..)' } })),
  outline.map((o) => gzipJson({ outline: o, sources: { Main: 'module Main exposing (..)' } })),
  fc.tuple(fc.oneof(fc.constantFrom(...outlineFields), fc.string({ maxLength: 12 })), nested).map(([field, value]) =>
    zlib.gzipSync(`{"outline":${JSON.stringify(validOutline).slice(0, -1)},${JSON.stringify(field)}:${value}},"sources":{"Main":""}}`),
  ),
  // A valid bundle's text with a stretch of it replaced by anything.
  fc.tuple(fc.nat(), fc.nat({ max: 40 }), fc.string({ unit: 'binary', maxLength: 40 })).map(([at, length, text]) => {
    const json = JSON.stringify({ outline: validOutline, sources: { Main: 'module Main exposing (..)' } });
    const from = at % json.length;
    return zlib.gzipSync(json.slice(0, from) + text + json.slice(from + length));
  }),
  fc.constantFrom(...bombs),
);

test('any upload: the bundle reader and the outline validation answer a success or a coded 4xx, in bounded memory', async (t) => {
  const before = process.memoryUsage().rss;
  let highest = before;
  const codes = new Map<string, number>();
  await fc.assert(
    fc.asyncProperty(anyUpload, fc.integer({ min: 1, max: 64 * 1024 }), async (bytes, chunk) => {
      const body = Readable.from((function* () {
        for (let at = 0; at < bytes.length; at += chunk) yield bytes.subarray(at, at + chunk);
      })());
      const outcome = await answered(async () => {
        const read = await readBundle(body, null);
        const valid = validateOutline(read.outline, expected, read.sources);
        const compact = Buffer.byteLength(JSON.stringify(read.outline));
        if (outlineFile(valid.raw).length > 5 * compact + 16) throw new Error(`stored ${outlineFile(valid.raw).length} bytes for an outline of ${compact}`);
      });
      const key = outcome.ok ? 'published' : outcome.code;
      codes.set(key, (codes.get(key) ?? 0) + 1);
      highest = Math.max(highest, process.memoryUsage().rss);
    }),
    runs,
  );
  t.log(Object.fromEntries(codes));
  t.true(codes.size >= 4, 'the inputs reached several of the answers');
  // At most one 50 MiB bundle is read at a time here: its bytes, text and strings.
  t.true(highest - before < 400 * mib, `memory grew by ${Math.round((highest - before) / mib)} MiB`);
});

// --- The JSON body reader, over HTTP ---------------------------------------------------------

let reg: TestRegistry;
test.before(async () => {
  // Fetch attempts are rate limited per client: lifted, so that every run reaches the body reader.
  reg = await startRegistry({ overrides: { accounts: { fetchPerClient: { burst: 1e9, everyMs: 1 } } } });
});
test.after.always(() => reg?.close());

const contentType = fc.oneof(
  { arbitrary: fc.constant('application/json'), weight: 6 },
  { arbitrary: fc.constantFrom(undefined, 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '', 'application/vnd.api+json'), weight: 1 },
);
const contentEncoding = fc.oneof({ arbitrary: fc.constant(undefined), weight: 6 }, { arbitrary: fc.constantFrom('identity', 'gzip', 'deflate', 'br', 'compress', 'nonsense'), weight: 1 });
const jsonBody: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.json({ maxDepth: 5 }).map((text) => Buffer.from(text)),
  fc.string({ unit: 'binary', maxLength: 300 }).map((text) => Buffer.from(text)),
  fc.uint8Array({ maxLength: 300 }),
  fc.record({ fetchSessionToken: fc.jsonValue({ maxDepth: 2 }), emailConfirmationCode: fc.jsonValue({ maxDepth: 2 }) }).map((value) => Buffer.from(JSON.stringify(value))),
  fc.integer({ min: 60 * 1024, max: 200 * 1024 }).map((size) => Buffer.from(JSON.stringify({ fetchSessionToken: 'x'.repeat(size) }))),
  nested.map((text) => Buffer.from(text)),
);

test('a JSON body without Content-Type is read as JSON, as the protocol says; another type is 415', async (t) => {
  const body = Buffer.from(JSON.stringify({ fetchSessionToken: 'grf_unknown', emailConfirmationCode: 'ABCDEFGH' }));
  const res = await fetch(`${reg.url}/session/fetch`, { method: 'POST', body });
  t.like(await res.json(), { error: 'invalid_code' }, 'read, and its token looked up');
  const typed = await fetch(`${reg.url}/session/fetch`, { method: 'POST', body, headers: { 'content-type': 'text/plain' } });
  t.is(typed.status, 415);
});

test('any JSON body, type and encoding: the reader answers a success or a coded 4xx, never a 500', async (t) => {
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(jsonBody, contentType, contentEncoding, fc.boolean(), async (body, type, encoding, gzipIt) => {
      const headers: Record<string, string> = {};
      if (type !== undefined) headers['content-type'] = type;
      if (encoding !== undefined) headers['content-encoding'] = encoding;
      const sent = gzipIt && encoding === 'gzip' ? zlib.gzipSync(body) : body;
      const res = await fetch(`${reg.url}/session/fetch`, { method: 'POST', headers, body: sent });
      const text = await res.text();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status >= 500) return false;
      const error = (JSON.parse(text) as { error?: string }).error;
      return res.status < 400 || (error !== undefined && error in catalog && catalog[error as keyof typeof catalog].status === res.status);
    }),
    runs,
  );
  t.log(Object.fromEntries(statuses));
  t.true(statuses.size >= 3, 'the inputs reached several of the answers');
  t.is((await fetch(`${reg.url}/healthz`)).status, 200);
  t.deepEqual(reg.log.lines.filter((line) => line.level === 'error'), []);
});
