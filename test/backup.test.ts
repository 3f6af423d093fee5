import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { tempDir } from './helpers/registry.ts';
import { startRegistryWithMail, loggedIn, createIdentity, call, expectJson } from './helpers/accounts.ts';
import { fixturesDir } from './helpers/bundle.ts';
import { dataPaths } from '../gateway/registry.ts';
import { runScript } from './helpers/process.ts';


function folder(t: { teardown(fn: () => unknown): void }, prefix: string): string {
  const dir = tempDir(prefix);
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function publishCore(url: string, token: string, version: string): Promise<void> {
  const file = path.join(fixturesDir, `gren_lang_core__${version.replaceAll('.', '_')}.pkg.gz`);
  const res = await fetch(`${url}/packages/gren-lang/core/${version}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/gzip' },
    body: fs.readFileSync(file),
  });
  await expectJson(res, 201);
}

/** The commands the backup prints for keeping mirrors, run as an operator would paste them. */
function runPrinted(stdout: string, prefix: string): void {
  const commands = stdout.split('\n').filter((line) => line.startsWith(`  ${prefix}`));
  if (commands.length === 0) throw new Error(`no "${prefix}" command printed`);
  for (const command of commands) {
    const [program, ...args] = command.trim().split(/\s+/);
    execFileSync(program as string, args, { stdio: 'ignore' });
  }
}

test('a backup taken while the registry writes, with the mirrors it advises, restores a working registry', async (t) => {
  const reg = await startRegistryWithMail({ dataDir: folder(t, 'gren-backup-data-') });
  t.teardown(() => reg.close());
  const session = await loggedIn(reg, 'robin@example.com');
  await createIdentity(reg, session, 'gren-lang');
  await publishCore(reg.url, session, '7.0.0');

  let writing = true;
  let written = 0;
  const writer = (async () => {
    while (writing) {
      await expectJson(await call(reg.url, 'POST', '/tokens', { token: session, body: { name: `load-${written}`, identity: 'gren-lang', role: 'download' } }), 201);
      written += 1;
    }
  })();
  const dest = path.join(folder(t, 'gren-backup-dest-'), 'nightly');
  const run = await runScript('backup.ts', [dest, '--data', reg.dataDir]);
  writing = false;
  await writer;
  t.is(run.code, 0, run.stderr);
  t.true(written > 0, 'the registry wrote during the backup');
  t.regex(run.stdout, /^Copied accounts\.sqlite: \d+ pages, .*, integrity ok -> /m);
  t.regex(run.stdout, /^Copied notifications\.sqlite: /m);
  t.deepEqual(fs.readdirSync(dest).sort(), ['accounts.sqlite', 'notifications.sqlite'], 'no temporary or WAL file is left');
  t.is(fs.statSync(dest).mode & 0o777, 0o700);
  for (const file of fs.readdirSync(dest)) t.is(fs.statSync(path.join(dest, file)).mode & 0o777, 0o600, file);

  runPrinted(run.stdout, 'git clone --mirror');
  await publishCore(reg.url, session, '7.1.0');
  runPrinted(run.stdout, 'git -C');
  await reg.close();

  const restored = folder(t, 'gren-restored-');
  for (const file of ['accounts.sqlite', 'notifications.sqlite']) fs.copyFileSync(path.join(dest, file), path.join(restored, file));
  for (const repo of ['index.git', 'private.git']) execFileSync('git', ['clone', '--quiet', '--mirror', path.join(dest, repo), path.join(restored, repo)]);
  // A restored registry keeps its public address (REGISTRY_URL), as it would in production.
  const again = await startRegistryWithMail({ dataDir: restored, env: { REGISTRY_URL: reg.url } });
  t.teardown(() => again.close());
  const who = await expectJson(await call(again.url, 'GET', '/session', { token: session }), 200);
  t.deepEqual(who, { email: 'robin@example.com', identities: [{ name: 'gren-lang', role: 'admin' }] }, 'the session saved before the backup still works');
  t.deepEqual(await expectJson(await call(again.url, 'GET', '/packages/gren-lang/core/latest'), 200), { version: '7.1.0' }, 'the mirror followed with git fetch');
  const served = await fetch(`${again.url}/index/packages/gren-lang/core/7.0.0/bundle.pkg.gz`);
  t.deepEqual(Buffer.from(await served.arrayBuffer()), fs.readFileSync(path.join(fixturesDir, 'gren_lang_core__7_0_0.pkg.gz')));
  t.true(fs.existsSync(path.join(dataPaths(restored).publicServed, 'packages/gren-lang/core/index.json')), 'the served folder is rebuilt from main');
  const verified = await runScript('verify.ts', ['--data', restored]);
  t.is(verified.code, 0, verified.stdout);
});

test('backup refuses a folder that is not a data folder, and needs exactly one DEST', async (t) => {
  const empty = folder(t, 'gren-not-data-');
  const notData = await runScript('backup.ts', [path.join(empty, 'dest'), '--data', empty]);
  t.is(notData.code, 1);
  t.regex(notData.stderr, /accounts\.sqlite does not exist: is .* a registry data folder\?/);
  t.false(fs.existsSync(path.join(empty, 'dest')));
  const noDest = await runScript('backup.ts', ['--data', empty]);
  t.is(noDest.code, 2);
  t.regex(noDest.stderr, /backup: give exactly one DEST folder\.\n\nUsage: node scripts\/backup\.ts DEST/);
});
