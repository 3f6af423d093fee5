import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { tempDir } from './helpers/registry.ts';
import { startRegistryWithMail, loggedIn, createIdentity, call, expectJson, type MailRegistry } from './helpers/accounts.ts';
import { bundle, fixturesDir } from './helpers/bundle.ts';
import { dataPaths } from '../gateway/registry.ts';
import { packagePaths } from '../gateway/packages/version-index.ts';
import { runScript } from './helpers/process.ts';

const runVerify = (dataDir: string) => runScript('verify.ts', ['--data', dataDir]);


async function publish(reg: MailRegistry, token: string, name: string, version: string, bytes: Buffer): Promise<void> {
  const res = await fetch(`${reg.url}/packages/${name}/${version}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/gzip' },
    body: bytes,
  });
  await expectJson(res, 201);
}

/** A data folder with public packages, a revoked version and a private package; the registry still running. */
async function populated(t: { teardown(fn: () => unknown): void }): Promise<MailRegistry> {
  const reg = await startRegistryWithMail({ dataDir: tempDir('gren-verify-') });
  t.teardown(async () => {
    await reg.close();
    fs.rmSync(reg.dataDir, { recursive: true, force: true });
  });
  const token = await loggedIn(reg, 'robin@example.com');
  await createIdentity(reg, token, 'gren-lang');
  await publish(reg, token, 'gren-lang/core', '7.0.0', fs.readFileSync(path.join(fixturesDir, 'gren_lang_core__7_0_0.pkg.gz')));
  await publish(reg, token, 'gren-lang/url', '6.0.0', fs.readFileSync(path.join(fixturesDir, 'gren_lang_url__6_0_0.pkg.gz')));
  await publish(reg, token, 'gren-lang/secret', '1.0.0', bundle({ name: 'gren-lang/secret', version: '1.0.0', private: true, deps: { 'gren-lang/core': '7.0.0 <= v < 8.0.0' } }));
  await expectJson(await call(reg.url, 'DELETE', '/packages/gren-lang/url/6.0.0', { token, body: { reason: 'Broken' } }), 200);
  return reg;
}

function git(args: string[], cwd?: string): string {
  return execFileSync('git', ['-c', 'user.name=Tamper', '-c', 'user.email=tamper@example.com', ...args], { cwd, encoding: 'utf8' }).trim();
}

/** Turns every pack of a repository into loose objects, so that one object can be damaged alone. */
function unpackAll(gitDir: string): void {
  const packDir = path.join(gitDir, 'objects', 'pack');
  const aside = tempDir('gren-packs-');
  for (const name of fs.readdirSync(packDir).filter((n) => n.endsWith('.pack'))) {
    for (const ext of ['.pack', '.idx']) fs.renameSync(path.join(packDir, name.replace(/\.pack$/, ext)), path.join(aside, name.replace(/\.pack$/, ext)));
    execFileSync('git', ['--git-dir', gitDir, 'unpack-objects', '-q'], { input: fs.readFileSync(path.join(aside, name)) });
  }
  fs.writeFileSync(path.join(gitDir, 'objects', 'info', 'packs'), '\n');
  fs.rmSync(aside, { recursive: true, force: true });
}

function looseObject(gitDir: string, oid: string): string {
  const file = path.join(gitDir, 'objects', oid.slice(0, 2), oid.slice(2));
  if (!fs.existsSync(file)) throw new Error(`${oid} is not a loose object of ${gitDir}`);
  return file;
}

test('a healthy data folder has no findings, while the registry runs and after it stopped', async (t) => {
  const reg = await populated(t);
  const running = await runVerify(reg.dataDir);
  t.is(running.code, 0, running.stdout + running.stderr);
  t.regex(running.stdout, /: no findings \(public main [0-9a-f]{40}\)\.\n$/);
  await reg.close();
  const stopped = await runVerify(reg.dataDir);
  t.is(stopped.code, 0, stopped.stdout + stopped.stderr);
});

test('a modified served file, a deleted bundle and a corrupted object are each one finding line', async (t) => {
  const reg = await populated(t);
  await reg.close();
  const paths = dataPaths(reg.dataDir);
  unpackAll(paths.publicGit);
  unpackAll(paths.privateGit);
  fs.appendFileSync(path.join(paths.publicServed, 'packages/gren-lang/core/index.json'), ' ');
  const bundleOid = git(['--git-dir', paths.publicGit, 'rev-parse', packagePaths('gren-lang/core').bundleRef('7.0.0')]);
  fs.rmSync(looseObject(paths.publicGit, bundleOid));
  const secretOid = git(['--git-dir', paths.privateGit, 'rev-parse', 'main:packages/gren-lang/secret/1.0.0/gren.json']);
  const corrupted = looseObject(paths.privateGit, secretOid);
  fs.chmodSync(corrupted, 0o644);
  fs.writeFileSync(corrupted, 'not a zlib stream');

  const run = await runVerify(reg.dataDir);
  t.is(run.code, 1);
  const lines = run.stdout.trimEnd().split('\n');
  t.true(lines.includes('served: index/packages/gren-lang/core/index.json differs from main'), run.stdout);
  t.true(lines.some((line) => line.startsWith('public: git fsck: ') && line.includes(bundleOid)), run.stdout);
  t.true(lines.includes(`public: packages/gren-lang/core 7.0.0: the bundle's object ${bundleOid} is missing`), run.stdout);
  t.true(lines.some((line) => line.startsWith('private: git fsck: ') && line.includes(secretOid)), run.stdout);
  t.false(lines.some((line) => /gren-lang\/url/.test(line)), 'the revoked version without a bundle is as it should be');
});

test('bundles and tags that disagree with index.json, revoked content still on disk, and a private package in the public history, are found', async (t) => {
  const reg = await populated(t);
  await reg.close();
  const paths = dataPaths(reg.dataDir);
  const gitDir = paths.publicGit;
  const core = packagePaths('gren-lang/core');
  const url = packagePaths('gren-lang/url');
  const work = tempDir('gren-tamper-');
  t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));
  // A bundle ref naming other bytes, a tag naming another tree, a revoked bundle back on disk (and on a ref).
  const secret = packagePaths('gren-lang/secret');
  const secretBytes = execFileSync('git', ['--git-dir', paths.privateGit, 'cat-file', 'blob', secret.bundleRef('1.0.0')]);
  fs.writeFileSync(path.join(work, 'longer.pkg.gz'), Buffer.concat([secretBytes, Buffer.from('x')]));
  git(['--git-dir', paths.privateGit, 'update-ref', secret.bundleRef('1.0.0'), git(['--git-dir', paths.privateGit, 'hash-object', '-w', path.join(work, 'longer.pkg.gz')])]);
  git(['--git-dir', gitDir, 'update-ref', core.tagRef('7.0.0'), git(['--git-dir', gitDir, 'rev-parse', 'main'])]);
  const urlBytes = path.join(fixturesDir, 'gren_lang_url__6_0_0.pkg.gz');
  const revokedOid = git(['--git-dir', gitDir, 'hash-object', '-w', urlBytes]);
  git(['--git-dir', gitDir, 'update-ref', url.bundleRef('6.0.0'), revokedOid]);
  // A private package in the public history, then hidden; and a bundle file on main, as before content refs.
  git(['clone', '--quiet', gitDir, path.join(work, 'clone')]);
  const clone = path.join(work, 'clone');
  fs.mkdirSync(path.join(clone, 'packages/Gren-Lang/secret'), { recursive: true });
  fs.writeFileSync(path.join(clone, 'packages/Gren-Lang/secret/index.json'), '{"name": "Gren-Lang/secret", "versions": []}\n');
  fs.copyFileSync(urlBytes, path.join(clone, 'packages/gren-lang/url/6.0.0/bundle.pkg.gz'));
  git(['add', '-A'], clone);
  git(['commit', '--quiet', '-m', 'Leak a private package'], clone);
  git(['rm', '--quiet', '-r', 'packages/Gren-Lang', 'packages/gren-lang/url/6.0.0/bundle.pkg.gz'], clone);
  git(['commit', '--quiet', '-m', 'Hide the leak'], clone);
  git(['push', '--quiet', 'origin', 'HEAD:main'], clone);

  const run = await runVerify(reg.dataDir);
  t.is(run.code, 1);
  const lines = run.stdout.trimEnd().split('\n');
  t.true(lines.includes(`private: packages/gren-lang/secret 1.0.0: the bundle has ${secretBytes.length + 1} bytes, index.json says ${secretBytes.length}`), run.stdout);
  t.true(lines.includes(`public: packages/gren-lang/core 7.0.0: the tag's tree differs from the bundle's gren.json and sources`), run.stdout);
  t.true(lines.includes('public: packages/gren-lang/url 6.0.0 is revoked but its bundle ref is still there'), run.stdout);
  t.true(lines.includes(`public: packages/gren-lang/url 6.0.0 is revoked but its bundle is still in the repository (object ${revokedOid})`), run.stdout);
  t.true(lines.includes('public: the history of the public index holds files of the private package gren-lang/secret'), run.stdout);
  t.true(lines.includes('public: the history of main holds 1 bundle files (the layout before content refs; starting the registry converts it)'), run.stdout);
  t.true(lines.includes('served: index/packages/gren-lang/url/6.0.0/bundle.pkg.gz is a bundle but is not served'), run.stdout);
});

test('a revoked bundle that no ref reaches but a pack still holds is found', async (t) => {
  const reg = await populated(t);
  await reg.close();
  const gitDir = dataPaths(reg.dataDir).publicGit;
  const revokedOid = git(['--git-dir', gitDir, 'hash-object', '-w', path.join(fixturesDir, 'gren_lang_url__6_0_0.pkg.gz')]);
  execFileSync('git', ['--git-dir', gitDir, 'repack', '-q'], { encoding: 'utf8' });
  const run = await runVerify(reg.dataDir);
  t.is(run.code, 1);
  t.deepEqual(run.stdout.trimEnd().split('\n'), [`public: packages/gren-lang/url 6.0.0 is revoked but its bundle is still in the repository (object ${revokedOid})`]);
});
