import test from 'ava';
import { credentialsStore } from '../scripts/client/credentials.ts';
import { bundle, decodeBundle, fixtureContent, fixtures } from './helpers/bundle.ts';
import { clientScript } from './helpers/client.ts';
import { publisher, published } from './helpers/fixtures.ts';
import { call, expectJson, loggedIn, startRegistryWithMail } from './helpers/accounts.ts';
import { applicationOutline, bundleFileName, grenProject, mainSource } from './helpers/gren.ts';

/*
 * Today's gren against the registry itself, the way a user switches: every command through
 * `gren-registry exec`, which points git at the registry's view for this compiler and lends it
 * the login, in the command's environment only.
 */

/** In dependency order: node depends on url. */
const publicFixtures = [
  ['gren-lang/core', '7.4.0', 'gren_lang_core__7_4_0.pkg.gz'],
  ['gren-lang/url', '6.0.0', 'gren_lang_url__6_0_0.pkg.gz'],
  ['gren-lang/node', '6.1.1', 'gren_lang_node__6_1_1.pkg.gz'],
] as const;

/** A bundle as the compiler writes it again from its checkout: the outline without `private`, the registry's own field, which the compiler does not know. */
function asTheCompilerWritesIt(bytes: Buffer) {
  const { outline, sources } = decodeBundle(bytes);
  const { private: _private, ...known } = outline;
  return { outline: known, sources };
}

const secretSource = 'module Secret exposing (secret)\n\nsecret : Int\nsecret =\n    42\n';

test('through gren-registry exec, gren make installs public and private packages from the registry; the private one only for its members', async (t) => {
  const reg = await startRegistryWithMail();
  t.teardown(() => reg.close());
  const owner = await publisher(reg, 'robin@example.com', ['gren-lang', 'acme']);
  for (const [name, version, file] of publicFixtures) await published(reg.url, owner, name, version, fixtures().find((f) => f.file === file)!.bytes);
  const secret = bundle({
    name: 'acme/secret',
    version: '1.0.0',
    private: true,
    exposed: ['Secret'],
    sources: { Secret: secretSource },
    deps: { 'gren-lang/core': '7.0.0 <= v < 8.0.0' },
  });
  await published(reg.url, owner, 'acme/secret', '1.0.0', secret);

  const project = grenProject(t, {
    'gren.json': applicationOutline({ 'gren-lang/core': '7.4.0', 'gren-lang/node': '6.1.1', 'acme/secret': '1.0.0' }, { 'gren-lang/url': '6.0.0' }),
    'src/Main.gren': mainSource,
  });
  const via = [process.execPath, clientScript, 'exec', '--registry', reg.url, '--'];
  const secretFile = bundleFileName('acme/secret', '1.0.0');

  const anonymous = await project.run(['make', 'Main'], { via });
  t.not(anonymous.code, 0, 'without a login the private package is not given');
  t.false(anonymous.bundles.has(secretFile));

  const stranger = await loggedIn(reg, 'stranger@example.com');
  credentialsStore({ home: project.home }).set(reg.url, { email: 'stranger@example.com', sessionToken: stranger });
  const refused = await project.run(['make', 'Main'], { via });
  t.not(refused.code, 0, 'a user who is not a member of acme does not get it either');
  t.false(refused.bundles.has(secretFile));

  credentialsStore({ home: project.home }).set(reg.url, { email: 'robin@example.com', sessionToken: owner });
  const member = await project.run(['make', 'Main'], { via });
  t.is(member.code, 0, member.stdout + member.stderr);
  for (const [name, version] of publicFixtures) t.deepEqual(member.bundles.get(bundleFileName(name, version)), fixtureContent(name, version), `${name} ${version}`);
  t.deepEqual(member.bundles.get(secretFile), asTheCompilerWritesIt(secret), 'the private package as published (the compiler keeps only the fields it knows)');
  t.false(`${member.stdout}${member.stderr}`.includes(owner), 'the token is in no output');

  // A download token of acme, for a build machine, works the same way.
  const created = await expectJson(await call(reg.url, 'POST', '/tokens', { token: owner, body: { name: 'ci', identity: 'acme', role: 'download' } }), 201);
  credentialsStore({ home: project.home }).set(reg.url, { email: 'stranger@example.com', sessionToken: stranger });
  const machine = grenProject(t, {
    'gren.json': applicationOutline({ 'gren-lang/core': '7.4.0', 'gren-lang/node': '6.1.1', 'acme/secret': '1.0.0' }, { 'gren-lang/url': '6.0.0' }),
    'src/Main.gren': mainSource,
  });
  const built = await machine.run(['make', 'Main'], { via, env: { GREN_REGISTRY_TOKEN: created.token } });
  t.is(built.code, 0, built.stdout + built.stderr);
  t.deepEqual(built.bundles.get(secretFile), asTheCompilerWritesIt(secret));
});
