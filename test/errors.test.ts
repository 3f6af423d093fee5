import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { catalog, fail, type ErrorCode } from '../gateway/errors.ts';

const root = path.resolve(import.meta.dirname, '..');
const protocol = fs.readFileSync(path.join(root, 'docs/protocol.md'), 'utf8');

/** The rows of docs/protocol.md's error table: `| 409 | `version_exists` | ... |`. */
const documented = new Map([...protocol.matchAll(/^\| (\d{3}) \| `([a-z_]+)` \|/gm)].map((m) => [m[2] as string, Number(m[1])]));

/** The gateway's source, where the registry's answers are decided. */
function gatewaySource(): string {
  const files = fs.readdirSync(path.join(root, 'gateway'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts') && f !== 'errors.ts');
  return files.map((f) => fs.readFileSync(path.join(root, 'gateway', f), 'utf8')).join('\n');
}

const codes = Object.keys(catalog) as ErrorCode[];
const source = gatewaySource();

for (const code of codes) {
  test(`${code} is answered somewhere and documented`, (t) => {
    t.true(source.includes(`'${code}'`), `gateway/ never uses ${code}`);
    t.is(documented.get(code), catalog[code].status, `docs/protocol.md's error table gives ${code} its status`);
  });
}

test('docs/protocol.md documents no code the catalog does not have', (t) => {
  t.true(documented.size > 0, 'the error table was found');
  t.deepEqual([...documented.keys()].filter((code) => !(code in catalog)), []);
});

test('every status is an error status, and every message one sentence for a person', (t) => {
  for (const [code, { status, message }] of Object.entries(catalog)) {
    t.true(status >= 400 && status < 600, code);
    t.regex(message, /^[A-Z].*[.!?]$/, code);
  }
});

test('a catalog error renders as {error, message}', (t) => {
  const error = fail('version_exists', 'gren-lang/core 7.4.0 is registered already.');
  t.is(error.status, 409);
  t.deepEqual(error.body, { error: 'version_exists', message: 'gren-lang/core 7.4.0 is registered already.' });
  t.deepEqual(fail('too_large').body, { error: 'too_large', message: catalog.too_large.message });
});

test('an unexpected error is a 500 that shows nothing of itself', async (t) => {
  const { startRegistry } = await import('./helpers/registry.ts');
  const reg = await startRegistry();
  t.teardown(() => reg.close());
  // A dependency failing in a way no handler expects.
  reg.registry.deps.packages.listing = () => {
    throw new Error('secret internals at /srv/registry');
  };
  const res = await fetch(`${reg.url}/packages`);
  t.is(res.status, 500);
  const body = (await res.json()) as { error: string; message: string };
  t.deepEqual(body, { error: 'internal', message: catalog.internal.message });
  t.true(reg.log.lines.some((l) => l.event === 'request_failed' && String(l.message).includes('secret internals')));
});
