import test from 'ava';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { execFile } from 'node:child_process';
import { StatementSync } from 'node:sqlite';
import { bundle, type BundleSpec } from './helpers/bundle.ts';
import { published, publisher, putBundle, revokeCall } from './helpers/fixtures.ts';
import { addMember, call, createIdentity, createToken, expectError, expectJson, loggedIn, startRegistryWithMail, type MailRegistry } from './helpers/accounts.ts';
import { gitCmd } from './helpers/git.ts';
import { tempDir } from './helpers/registry.ts';

const marker = `kept-secret-${crypto.randomBytes(6).toString('hex')}`;
const secretName = 'acme/sauce-recipe';
const secretBundle = (version: string, over: Partial<BundleSpec> = {}) =>
  bundle({ name: secretName, version, private: true, summary: `Summary ${marker}`, exposed: ['Sauce.Recipe'], sources: { 'Sauce.Recipe': `module Sauce.Recipe exposing (..)\n-- ${marker}\n` }, ...over });

let reg: MailRegistry;
let owner: string;
let reader: string;
let outsider: string;
test.before(async () => {
  reg = await startRegistryWithMail();
  owner = await publisher(reg, 'owner@example.com', ['acme', 'other']);
  reader = await loggedIn(reg, 'reader@example.com');
  await addMember(reg, owner, 'acme', 'reader@example.com', 'download');
  outsider = await publisher(reg, 'outsider@example.com', ['elsewhere']);
  await published(reg.url, owner, 'acme/public-base', '1.0.0', bundle({ name: 'acme/public-base', version: '1.0.0' }));
  await published(reg.url, owner, secretName, '1.0.0', secretBundle('1.0.0', { deps: { 'acme/public-base': '1.0.0 <= v < 2.0.0' } }));
  await published(reg.url, owner, secretName, '1.1.0', secretBundle('1.1.0'));
});
test.after.always(() => reg?.close());

test.serial('latest and previous: 404 not_found for anyone without download in the author, the answer for members and tokens', async (t) => {
  for (const token of [null, outsider]) {
    await expectError(await call(reg.url, 'GET', `/packages/${secretName}/latest`, { token }), 404, 'not_found', t);
    await expectError(await call(reg.url, 'GET', `/packages/${secretName}/previous/1.1.0`, { token }), 404, 'not_found', t);
  }
  const downloadToken = (await createToken(reg, owner, { identity: 'acme', role: 'download' })).token;
  const otherToken = (await createToken(reg, owner, { identity: 'other', role: 'publish' })).token;
  await expectError(await call(reg.url, 'GET', `/packages/${secretName}/latest`, { token: otherToken }), 404, 'not_found', t);
  for (const token of [owner, reader, downloadToken]) {
    t.deepEqual(await expectJson(await call(reg.url, 'GET', `/packages/${secretName}/latest?gren=0.6.0`, { token }), 200), { version: '1.1.0' });
    t.deepEqual(await expectJson(await call(reg.url, 'GET', `/packages/${secretName}/previous/1.1.0`, { token }), 200), { version: '1.0.0' });
  }
});

test.serial('/private/ serves the files for members only, with ETag and 304; others get 404 as for nothing', async (t) => {
  const base = `${reg.url}/private/packages/${secretName}`;
  for (const file of ['index.json', '1.0.0/gren.json', '1.0.0/bundle.pkg.gz']) {
    for (const token of [null, outsider]) {
      await expectError(await call(reg.url, 'GET', `/private/packages/${secretName}/${file}`, { token }), 404, 'not_found', t);
    }
  }
  const auth = { authorization: `Bearer ${reader}` };
  const bundleRes = await fetch(`${base}/1.1.0/bundle.pkg.gz`, { headers: auth });
  t.is(bundleRes.status, 200);
  t.is(bundleRes.headers.get('content-type'), 'application/gzip');
  t.regex(bundleRes.headers.get('cache-control') ?? '', /^private/);
  const bytes = Buffer.from(await bundleRes.arrayBuffer());
  const index = await expectJson(await fetch(`${base}/index.json`, { headers: auth }), 200);
  t.deepEqual(index.versions.map((e: { version: string }) => e.version), ['1.0.0', '1.1.0']);
  t.is(index.versions[1].sha256, crypto.createHash('sha256').update(bytes).digest('hex'));
  const outline = await expectJson(await fetch(`${base}/1.1.0/gren.json`, { headers: auth }), 200);
  t.is(outline.private, true);
  const etag = bundleRes.headers.get('etag') as string;
  t.is((await fetch(`${base}/1.1.0/bundle.pkg.gz`, { headers: { ...auth, 'If-None-Match': etag } })).status, 304);
  const head = await fetch(`${base}/index.json`, { method: 'HEAD', headers: auth });
  t.is(head.status, 200);
  t.is(await head.text(), '');
  await expectError(await call(reg.url, 'GET', `/private/packages/${secretName}/9.9.9/gren.json`, { token: reader }), 404, 'not_found', t);
  await expectError(await call(reg.url, 'GET', '/private/packages/acme/public-base/index.json', { token: reader }), 404, 'not_found', t);
});

/**
 * Runs `request` and answers the SQL statements it executed, in order, by patching the
 * statements' methods for its duration (the registry runs in this process). Writes of
 * `last_used`, made at most once a minute whatever is asked, are left out.
 */
async function queriesOf(request: () => Promise<unknown>): Promise<string[]> {
  const methods = ['get', 'all', 'run', 'iterate'] as const;
  const originals = methods.map((name) => StatementSync.prototype[name]);
  const seen: string[] = [];
  methods.forEach((name, i) => {
    const original = originals[i] as (...args: unknown[]) => unknown;
    (StatementSync.prototype as unknown as Record<string, unknown>)[name] = function (this: StatementSync, ...args: unknown[]) {
      seen.push(this.sourceSQL.replace(/\s+/g, ' ').trim());
      return original.apply(this, args);
    };
  });
  try {
    await request();
  } finally {
    methods.forEach((name, i) => ((StatementSync.prototype as unknown as Record<string, unknown>)[name] = originals[i]));
  }
  return seen.filter((sql) => !/^UPDATE \w+ SET last_used/.test(sql));
}

test.serial('a non-member’s refusal costs the same work for a private package as for one that does not exist', async (t) => {
  const paths = (name: string) => [`/packages/${name}/latest`, `/packages/${name}/previous/1.1.0`, `/private/packages/${name}/index.json`, `/private/packages/${name}/1.0.0/bundle.pkg.gz`];
  const [secret, missing, noAuthor] = [secretName, 'acme/nothing-here', 'nobody/sauce-recipe'].map(paths) as [string[], string[], string[]];
  await call(reg.url, 'GET', '/session', { token: outsider });
  for (const token of [outsider, null]) {
    for (const [i, path] of secret.entries()) {
      const work: string[][] = [];
      for (const asked of [path, missing[i] as string, noAuthor[i] as string]) {
        work.push(await queriesOf(async () => expectError(await call(reg.url, 'GET', asked, { token }), 404, 'not_found')));
      }
      t.deepEqual(work[1], work[0], `${path}: ${JSON.stringify(work)}`);
      t.deepEqual(work[2], work[0], `${path}: ${JSON.stringify(work)}`);
      if (token !== null) t.true(work[0]!.length > 1, 'the session and the role are looked up');
    }
  }
});

test.serial('the public side shows nothing of a private package', async (t) => {
  const listing = await expectJson(await call(reg.url, 'GET', '/packages', { token: owner }), 200);
  t.false(JSON.stringify(listing).includes('sauce'));
  t.is((await fetch(`${reg.url}/index/packages/${secretName}/index.json`)).status, 404);
  t.is((await fetch(`${reg.url}/index/packages/${secretName}/1.0.0/bundle.pkg.gz`)).status, 404);
});

test.serial('dependencies: private on public and on private of its own author; never public on private', async (t) => {
  await published(reg.url, owner, 'acme/private-app-kit', '1.0.0', bundle({ name: 'acme/private-app-kit', version: '1.0.0', private: true, deps: { [secretName]: '1.0.0 <= v < 2.0.0', 'acme/public-base': '1.0.0 <= v < 2.0.0' } }));
  const publicOnPrivate = bundle({ name: 'acme/leaky', version: '1.0.0', deps: { [secretName]: '1.0.0 <= v < 2.0.0' } });
  const { message } = await expectError(await putBundle(reg.url, owner, 'acme/leaky', '1.0.0', publicOnPrivate), 422, 'unknown_dependency', t);
  t.false(message.includes('private'), 'the refusal does not tell a private package exists');
});

test.serial("a private package may depend on another identity's private package only when its publisher may download it", async (t) => {
  const intruder = bundle({ name: 'elsewhere/borrower', version: '1.0.0', private: true, deps: { [secretName]: '1.0.0 <= v < 2.0.0' } });
  await expectError(await putBundle(reg.url, outsider, 'elsewhere/borrower', '1.0.0', intruder), 422, 'unknown_dependency', t);
  await addMember(reg, owner, 'acme', 'outsider@example.com', 'download');
  t.is((await putBundle(reg.url, outsider, 'elsewhere/borrower', '1.0.0', intruder)).status, 201);
});

test.serial('a private package is revoked in the private repository only', async (t) => {
  await published(reg.url, owner, secretName, '1.2.0', secretBundle('1.2.0'));
  const publicHead = reg.registry.deps.index.head();
  const entry = await expectJson(await revokeCall(reg.url, owner, secretName, '1.2.0', `reason ${marker}`), 200);
  t.truthy(entry.revoked);
  t.is(reg.registry.deps.index.head(), publicHead);
  const log = await gitCmd(['--git-dir', reg.registry.deps.privateIndex.gitDir, 'log', '-1', '--format=%s', 'main']);
  t.is(log.trim(), `Revoke ${secretName} 1.2.0`);
});

test.serial('one name cannot be both: racing public and private first publishes end in one repository', async (t) => {
  await createIdentity(reg, owner, 'racers');
  const name = 'racers/contested';
  const answers = await Promise.all(
    Array.from({ length: 8 }, (_, i) => putBundle(reg.url, owner, name, `1.0.${i}`, bundle({ name, version: `1.0.${i}`, private: i % 2 === 0 }))),
  );
  const won = answers.map((res, i) => ({ res, private: i % 2 === 0 })).filter((a) => a.res.status === 201);
  t.true(won.length >= 1);
  const side = won[0]?.private === true;
  t.true(won.every((a) => a.private === side), 'every accepted version has the visibility of the first');
  for (const { res } of answers.map((res, i) => ({ res, private: i % 2 === 0 })).filter((a) => a.private !== side)) {
    await expectError(res, 422, 'visibility_mismatch', t);
  }
  const inPublic = (await gitCmd(['--git-dir', reg.registry.deps.index.gitDir, 'ls-tree', '-r', '--name-only', 'main'])).includes(name);
  const inPrivate = (await gitCmd(['--git-dir', reg.registry.deps.privateIndex.gitDir, 'ls-tree', '-r', '--name-only', 'main'])).includes(name);
  t.is(inPublic, !side);
  t.is(inPrivate, side);
});

/** Every object of a repository (inflating gzip'd blobs), as `git cat-file --batch-all-objects --batch` gives them. */
function allObjects(gitDir: string): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    execFile('git', ['--git-dir', gitDir, 'cat-file', '--batch-all-objects', '--batch'], { encoding: 'buffer', maxBuffer: 1024 * 1024 * 1024 }, (err, stdout) => {
      if (err) return reject(err);
      const objects: Buffer[] = [];
      let at = 0;
      while (at < stdout.length) {
        const newline = stdout.indexOf(0x0a, at);
        const [, , size] = stdout.subarray(at, newline).toString().split(' ');
        const content = stdout.subarray(newline + 1, newline + 1 + Number(size));
        objects.push(content);
        if (content[0] === 0x1f && content[1] === 0x8b) objects.push(zlib.gunzipSync(content));
        at = newline + 1 + Number(size) + 1;
      }
      resolve(objects);
    });
  });
}

test.serial('no object of the public repository, its clone or its served folder holds anything of the private packages', async (t) => {
  const secrets = ['sauce-recipe', 'private-app-kit', 'elsewhere/borrower', 'Sauce.Recipe', marker];
  const privateObjects = await allObjects(reg.registry.deps.privateIndex.gitDir);
  for (const secret of secrets.filter((s) => s !== 'elsewhere/borrower')) {
    t.true(privateObjects.some((o) => o.includes(secret)), `the private repository does hold ${secret}, so the scan can find it`);
  }
  const clone = path.join(tempDir(), 'index');
  await gitCmd(['clone', '--quiet', '--mirror', `${reg.url}/index.git`, clone]);
  for (const gitDir of [reg.registry.deps.index.gitDir, clone]) {
    const objects = await allObjects(gitDir);
    t.true(objects.length > 10);
    t.true(objects.some((o) => o.includes('acme/public-base')), 'the scan reads the public packages');
    for (const secret of secrets) t.false(objects.some((o) => o.includes(secret)), `${gitDir} holds ${secret}`);
  }
  const served = reg.registry.deps.index.servedDir as string;
  for (const entry of fs.readdirSync(served, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    let content = fs.readFileSync(path.join(entry.parentPath, entry.name));
    if (content[0] === 0x1f && content[1] === 0x8b) content = zlib.gunzipSync(content);
    for (const secret of secrets) t.false(content.includes(secret), `${entry.name} holds ${secret}`);
  }
});
