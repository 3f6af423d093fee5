import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { openIndexRepo, type LocalIndexRepo } from '../index-repo/open-index-repo.ts';
import { memoryLogger } from '../gateway/log.ts';
import { dataPaths } from '../gateway/registry.ts';
import { encodeIndex, packagePaths, type VersionEntry, type VersionIndex } from '../gateway/packages/version-index.ts';
import { modulePath } from '../gateway/packages/source-tree.ts';
import { blobId } from '../index-repo/git-object.ts';
import { bundle, fixturesDir, versionEntryOf } from './helpers/bundle.ts';
import { tempDir } from './helpers/registry.ts';
import { startRegistryWithMail, expectJson } from './helpers/accounts.ts';
import { publisher, published } from './helpers/fixtures.ts';
import { fsck, gitBytes, gitCmd } from './helpers/git.ts';
import { runScript } from './helpers/process.ts';

const fixture = (file: string) => fs.readFileSync(path.join(fixturesDir, file));
const sourcesOf = (bytes: Buffer) => (JSON.parse(zlib.gunzipSync(bytes).toString('utf8')) as { sources: Record<string, string> }).sources;
const outlineOf = (bytes: Buffer) => (JSON.parse(zlib.gunzipSync(bytes).toString('utf8')) as { outline: Record<string, unknown> }).outline;

/** Writes a repository as the registry did before content refs: each bundle on main, a revoke deleting it from the tree. */
class OldLayout {
  private readonly indexes = new Map<string, VersionIndex>();
  private readonly repo: LocalIndexRepo;
  private time: number;
  constructor(repo: LocalIndexRepo, start: number) {
    this.repo = repo;
    this.time = start;
  }

  static async open(gitDir: string, servedDir: string | null, required: Record<string, Uint8Array>, start: number): Promise<OldLayout> {
    const clock = { now: () => new Date(start) };
    const repo = await openIndexRepo({ gitDir, servedDir, clock, log: memoryLogger(), name: 'old', required, packEvery: 0 });
    return new OldLayout(repo, start);
  }

  async publish(name: string, version: string, bytes: Buffer): Promise<void> {
    const paths = packagePaths(name);
    const published = new Date((this.time += 60_000)).toISOString();
    const outline = outlineOf(bytes);
    const entry = versionEntryOf(version, bytes, outline, published);
    const index = { name, versions: [...(this.indexes.get(name)?.versions ?? []), entry] };
    this.indexes.set(name, index);
    await this.repo.update(() => ({
      message: `Publish ${name} ${version}`,
      changes: [
        { path: paths.bundle(version), content: bytes },
        { path: paths.outline(version), content: Buffer.from(JSON.stringify(outline, null, 4) + '\n') },
        { path: paths.index, content: encodeIndex(index) },
      ],
      result: null,
    }));
  }

  async revoke(name: string, version: string): Promise<void> {
    const paths = packagePaths(name);
    const at = new Date((this.time += 60_000)).toISOString();
    const index = this.indexes.get(name) as VersionIndex;
    const next = { ...index, versions: index.versions.map((e) => (e.version === version ? { ...e, revoked: { at, reason: 'legal takedown' } } : e)) };
    this.indexes.set(name, next);
    await this.repo.update(() => ({
      message: `Revoke ${name} ${version}`,
      changes: [
        { path: paths.bundle(version), delete: true },
        { path: paths.index, content: encodeIndex(next) },
      ],
      result: null,
    }));
  }

  close(): Promise<void> {
    return this.repo.close();
  }
}

/** A data folder in the former layout: public packages, a revoked version, a private package. */
async function oldDataFolder(): Promise<{ dataDir: string; revoked: Buffer; live: Array<{ name: string; version: string; bytes: Buffer }> }> {
  const dataDir = tempDir('gren-old-layout-');
  const paths = dataPaths(dataDir);
  const start = Date.parse('2026-01-01T00:00:00Z');
  const config = Buffer.from('{"protocol": 1}\n');
  const pub = await OldLayout.open(paths.publicGit, paths.publicServed, { 'config.json': config }, start);
  const core = fixture('gren_lang_core__7_0_0.pkg.gz');
  const core71 = fixture('gren_lang_core__7_1_0.pkg.gz');
  const url = fixture('gren_lang_url__6_0_0.pkg.gz');
  await pub.publish('gren-lang/core', '7.0.0', core);
  await pub.publish('gren-lang/url', '6.0.0', url);
  await pub.publish('gren-lang/core', '7.1.0', core71);
  await pub.revoke('gren-lang/url', '6.0.0');
  await pub.close();
  const priv = await OldLayout.open(paths.privateGit, null, {}, start);
  const secret = fixture('gren_lang_compiler_common__1_0_0.pkg.gz');
  await priv.publish('gren-lang/secret', '1.0.0', secret);
  await priv.close();
  return {
    dataDir,
    revoked: url,
    live: [
      { name: 'gren-lang/core', version: '7.0.0', bytes: core },
      { name: 'gren-lang/core', version: '7.1.0', bytes: core71 },
    ],
  };
}

/** Author, dates and subject of every commit of main but the registry's own config.json update (its URL is a test's free port). */
const log = async (gitDir: string) =>
  (await gitCmd(['--git-dir', gitDir, 'log', '--format=%an <%ae> %at %cn %ct %s', 'main'])).split('\n').filter((line) => !line.endsWith(' Update config.json'));

test('a data folder in the former layout is converted at start: history kept commit for commit, revoked content gone, content on refs', async (t) => {
  const { dataDir, revoked, live } = await oldDataFolder();
  const paths = dataPaths(dataDir);
  const before = await log(paths.publicGit);
  const oldHead = (await gitCmd(['--git-dir', paths.publicGit, 'rev-parse', 'main'])).trim();
  // The bug this fixes: the revoked bundle is in the history, byte for byte.
  t.true((await gitBytes(['--git-dir', paths.publicGit, 'cat-file', 'blob', blobId(revoked)])).equals(revoked));

  const reg = await startRegistryWithMail({ dataDir });
  t.teardown(() => reg.close());
  const gitDir = reg.registry.deps.index.gitDir;
  t.deepEqual(await log(gitDir), before, 'every commit kept, with its author, dates and message');
  t.not(reg.registry.deps.index.head(), oldHead);
  const history = await gitCmd(['--git-dir', gitDir, 'rev-list', '--objects', 'main']);
  t.false(history.includes('bundle.pkg.gz'), 'no bundle anywhere in the history of main');
  await t.throwsAsync(gitCmd(['--git-dir', gitDir, 'cat-file', '-e', blobId(revoked)]), undefined, 'the revoked bundle is in no object');
  await t.throwsAsync(gitCmd(['--git-dir', gitDir, 'cat-file', '-e', oldHead]), undefined, 'the old history is gone');
  for (const { name, version, bytes } of live) {
    const refs = packagePaths(name);
    t.true((await gitBytes(['--git-dir', gitDir, 'cat-file', 'blob', refs.bundleRef(version)])).equals(bytes));
    const tree = (await gitCmd(['--git-dir', gitDir, 'ls-tree', '-r', '--name-only', refs.tagRef(version)])).trim().split('\n').sort();
    t.deepEqual(tree, ['gren.json', ...Object.keys(sourcesOf(bytes)).map(modulePath)].sort());
    const served = await fetch(`${reg.url}/index/packages/${name}/${version}/bundle.pkg.gz`);
    t.true(Buffer.from(await served.arrayBuffer()).equals(bytes));
  }
  t.is((await fetch(`${reg.url}/index/packages/gren-lang/url/6.0.0/bundle.pkg.gz`)).status, 404);
  t.is(fs.existsSync(path.join(paths.publicServed, 'packages/gren-lang/core/7.0.0/bundle.pkg.gz')), true);
  const secretRefs = packagePaths('gren-lang/secret');
  t.truthy((await gitCmd(['--git-dir', paths.privateGit, 'rev-parse', secretRefs.tagRef('1.0.0')])).trim());
  t.false((await gitCmd(['--git-dir', paths.privateGit, 'rev-list', '--objects', 'main'])).includes('bundle.pkg.gz'));
  await fsck(gitDir);
  await fsck(paths.privateGit);

  // The registry goes on publishing, and verify finds nothing.
  const token = await publisher(reg, 'robin@example.com', ['gren-lang']);
  await published(reg.url, token, 'gren-lang/url', '6.0.1', bundle({ name: 'gren-lang/url', version: '6.0.1' }));
  await reg.close();
  const verify = await runScript('verify.ts', ['--data', dataDir]);
  t.is(verify.code, 0, verify.stdout + verify.stderr);
});

test('a conversion cut short converts on the next start; a converted folder is left as it is', async (t) => {
  const { dataDir, live } = await oldDataFolder();
  const paths = dataPaths(dataDir);
  const before = await log(paths.publicGit);
  // Cut short after the first step: bundle refs written, history not yet rewritten.
  const partial = await openIndexRepo({ gitDir: paths.publicGit, servedDir: paths.publicServed, clock: { now: () => new Date() }, log: memoryLogger(), name: 'partial', required: {}, packEvery: 0 });
  const first = live[0] as (typeof live)[number];
  const onMain = await partial.snapshot().entry(packagePaths(first.name).bundle(first.version));
  await partial.update(() => ({ message: 'refs', changes: [], refs: [{ ref: packagePaths(first.name).bundleRef(first.version), object: onMain?.oid as string }], result: null }));
  await partial.close();

  // One public address for every start, so that config.json stays the same.
  const env = { REGISTRY_URL: 'https://registry.example' };
  const reg = await startRegistryWithMail({ dataDir, env });
  const converted = reg.registry.deps.index.head();
  t.deepEqual(await log(paths.publicGit), before);
  await reg.close();
  // Cut short after the history was rewritten but before the folder was marked: the same history again.
  fs.rmSync(path.join(paths.publicGit, 'registry-format'));
  const again = await startRegistryWithMail({ dataDir, env });
  t.teardown(() => again.close());
  t.is(again.registry.deps.index.head(), converted);
  t.false(again.log.lines.some((line) => line.event === 'content_refs_repaired'));
  const index = await expectJson(await fetch(`${again.url}/index/packages/gren-lang/core/index.json`), 200);
  t.deepEqual(index.versions.map((e: VersionEntry) => e.version), ['7.0.0', '7.1.0']);
  await again.close();
  const third = await startRegistryWithMail({ dataDir, env });
  t.is(third.registry.deps.index.head(), converted);
  t.false(third.log.lines.some((line) => line.event === 'index_converted' || line.event === 'index_purged'), 'nothing to do');
  await third.close();
  const verify = await runScript('verify.ts', ['--data', dataDir]);
  t.is(verify.code, 0, verify.stdout + verify.stderr);
});

test('a missing tag is rebuilt at start from its bundle, the same commit as at publish', async (t) => {
  const dataDir = tempDir();
  const reg = await startRegistryWithMail({ dataDir });
  const token = await publisher(reg, 'robin@example.com', ['gren-lang']);
  await published(reg.url, token, 'gren-lang/core', '7.0.0', fixture('gren_lang_core__7_0_0.pkg.gz'));
  await reg.close();
  const gitDir = dataPaths(dataDir).publicGit;
  const tag = packagePaths('gren-lang/core').tagRef('7.0.0');
  const original = (await gitCmd(['--git-dir', gitDir, 'rev-parse', tag])).trim();
  await gitCmd(['--git-dir', gitDir, 'update-ref', '-d', tag]);
  const again = await startRegistryWithMail({ dataDir });
  t.teardown(() => again.close());
  t.is((await gitCmd(['--git-dir', gitDir, 'rev-parse', tag])).trim(), original);
  t.true(again.log.lines.some((line) => line.event === 'content_refs_repaired'));
});
