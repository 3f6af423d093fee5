import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { startRegistry, tempDir } from './helpers/registry.ts';
import { startRegistryWithMail, loggedIn, createIdentity, call, expectJson } from './helpers/accounts.ts';
import { bundle, fixtures, fixturesDir } from './helpers/bundle.ts';
import { dataPaths } from '../gateway/registry.ts';
import { runScript, type ScriptRun } from './helpers/process.ts';

const runImport = (args: string[], env: Record<string, string> = {}) => runScript('import.ts', args, env);


function dataFolder(t: { teardown(fn: () => unknown): void }): string {
  const dir = tempDir('gren-import-');
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function summary(run: ScriptRun): string {
  return /^Imported .*$/m.exec(run.stdout)?.[0] ?? `(no summary) ${run.stdout}${run.stderr}`;
}

/** What the fixtures hold: packages, and the applications that must be refused. */
const packageCount = fixtures().filter((f) => f.outline['type'] === 'package').length;
const applicationCount = fixtures().length - packageCount;

test('importing the fixtures twice: the first run imports in dependency order, the second skips everything', async (t) => {
  const data = dataFolder(t);
  const first = await runImport([fixturesDir, '--admin', 'Admin@Example.com', '--data', data]);
  t.is(first.code, 1, 'some fixtures must be refused');
  t.regex(first.stdout, /^Importing 30 bundles through a registry started on /m);
  t.regex(first.stdout, /^imported +blaix\/gren-effectful-tests 5\.0\.1 {2}\(blaix_gren_effectful_tests__5_0_2\.pkg\.gz\)$/m, 'the outline wins over the file name');
  t.regex(first.stdout, /^refused +gren_lang_core__6_0_1\.pkg\.gz: its gren\.json is of type "application", not a package \[invalid_bundle\]$/m);
  t.regex(first.stdout, /^refused +gren-lang\/node 5\.0\.2 {2}\(gren_lang_node__5_0_2\.pkg\.gz\): .*gren-lang\/core has no published, unrevoked version.* \[unknown_dependency\]$/m);
  const imported = [...first.stdout.matchAll(/^imported +(\S+) (\S+)/gm)].map((m) => `${m[1]} ${m[2]}`);
  t.true(imported.indexOf('gren-lang/core 7.0.0') < imported.indexOf('gren-lang/node 6.0.0'));
  t.true(imported.indexOf('gren-lang/node 6.1.1') < imported.indexOf('blaix/gren-ws4sql 3.0.2'));
  const refusedForDependency = first.stdout.match(/\[unknown_dependency\]$/gm)?.length ?? 0;
  t.is(summary(first), `Imported ${imported.length}, skipped 0 as present, refused ${applicationCount + refusedForDependency}, of ${fixtures().length} bundles.`);
  t.is(imported.length, packageCount - refusedForDependency);

  const second = await runImport([fixturesDir, '--admin', 'admin@example.com', '--data', data, '--json']);
  const report = JSON.parse(second.stdout) as { outcomes: Array<{ result: string; reason: string }>; summary: Record<string, number> };
  t.deepEqual(report.summary, { imported: 0, skipped: imported.length, refused: applicationCount + refusedForDependency, bundles: fixtures().length });
  t.true(report.outcomes.filter((o) => o.result === 'skipped').every((o) => o.reason === 'present already'));

  const reg = await startRegistry({ dataDir: data });
  t.teardown(() => reg.close());
  t.deepEqual(await expectJson(await call(reg.url, 'GET', '/packages/gren-lang/core/latest'), 200), { version: '7.4.0' });
  const accounts = new DatabaseSync(dataPaths(data).accounts, { readOnly: true });
  t.teardown(() => accounts.close());
  const admins = accounts.prepare("SELECT i.name, m.email FROM memberships m JOIN identities i ON i.id = m.identity_id WHERE m.role = 'admin' ORDER BY i.name").all();
  t.deepEqual(admins.map((row) => ({ ...row })), [
    { name: 'blaix', email: 'admin@example.com' },
    { name: 'gren-lang', email: 'admin@example.com' },
  ]);
  const live = accounts.prepare('SELECT count(*) AS n FROM tokens WHERE revoked IS NULL').get() as { n: number };
  t.is(live.n, 0, 'every token minted for the import is revoked');
});

test('importing while the registry runs goes through it; without its address the import refuses to start', async (t) => {
  const reg = await startRegistryWithMail();
  t.teardown(() => reg.close());
  const owner = await loggedIn(reg, 'owner@example.com');
  await createIdentity(reg, owner, 'taken');
  const folder = dataFolder(t);
  fs.writeFileSync(path.join(folder, 'robin_base__1_0_0.pkg.gz'), bundle({ name: 'robin/base', version: '1.0.0' }));
  fs.writeFileSync(path.join(folder, 'robin_app__1_0_0.pkg.gz'), bundle({ name: 'robin/app', version: '1.0.0', deps: { 'robin/base': '1.0.0 <= v < 2.0.0' } }));
  fs.writeFileSync(path.join(folder, 'taken_thing__1_0_0.pkg.gz'), bundle({ name: 'taken/thing', version: '1.0.0' }));
  fs.writeFileSync(path.join(folder, 'broken.pkg.gz'), 'not gzip');

  const busy = await runImport([folder, '--admin', 'admin@example.com', '--data', reg.dataDir]);
  t.is(busy.code, 1);
  t.regex(busy.stderr, new RegExp(`^A registry \\(pid ${process.pid}\\) is running on .*: give its address with --registry URL`, 'm'));

  const run = await runImport([folder, '--admin', 'admin@example.com', '--data', reg.dataDir, '--registry', reg.url]);
  t.is(run.code, 1);
  const order = [...run.stdout.matchAll(/^imported +(\S+)/gm)].map((m) => m[1]);
  t.deepEqual(order, ['robin/base', 'robin/app'], 'a dependency first, whatever the file names');
  t.regex(run.stdout, /^refused +taken\/thing 1\.0\.0 .*admin@example\.com may not publish in the publishing identity taken.* \[forbidden\]$/m);
  t.regex(run.stdout, /^refused +broken\.pkg\.gz: it is not a gzip of JSON \[invalid_bundle\]$/m);
  t.is(summary(run), 'Imported 2, skipped 0 as present, refused 2, of 4 bundles.');
  t.deepEqual(await expectJson(await call(reg.url, 'GET', '/packages/robin/app/latest'), 200), { version: '1.0.0' });

  fs.writeFileSync(path.join(folder, 'robin_base__1_0_0.pkg.gz'), bundle({ name: 'robin/base', version: '1.0.0', summary: 'Changed since' }));
  const changed = await runImport([folder, '--admin', 'admin@example.com', '--data', reg.dataDir, '--registry', reg.url]);
  t.regex(changed.stdout, /^refused +robin\/base 1\.0\.0 .*registered already with other content \(sha256 [0-9a-f]{64}\) \[version_exists\]$/m);
  t.regex(changed.stdout, /^skipped +robin\/app 1\.0\.0 .*: present already$/m);
});

test('usage errors name what is missing and exit 2', async (t) => {
  const noAdmin = await runImport([fixturesDir]);
  t.is(noAdmin.code, 2);
  t.regex(noAdmin.stderr, /--admin EMAIL is required/);
  t.regex(noAdmin.stderr, /Usage: node scripts\/import\.ts FOLDER --admin EMAIL/);
  const noFolder = await runImport(['--admin', 'a@example.com']);
  t.is(noFolder.code, 2);
  const help = await runImport(['--help']);
  t.is(help.code, 0);
  t.regex(help.stdout, /in dependency\norder/);
});
