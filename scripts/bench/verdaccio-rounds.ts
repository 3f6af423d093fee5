import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { execFileSync } from 'node:child_process';
import type { HeldPackage, Target, Workload } from './publish-workloads.ts';
import { preparedPublisher, standardRuns, type RoundRuns } from './publish-runs.ts';
import { freePort } from '../../test/helpers/registry.ts';
import { killNow, spawnServer, waitUntilAnswering } from './server-process.ts';
import { copyFolder } from './copy-folder.ts';
import type { RoundOptions } from './gren-rounds.ts';

/** Verdaccio, the self-hosted npm registry: installed with npm into `dir` unless it is there; null when it cannot be. */
export function installVerdaccio(dir: string): string | null {
  const bin = path.join(dir, 'node_modules', 'verdaccio', 'bin', 'verdaccio');
  if (fs.existsSync(bin)) return bin;
  fs.mkdirSync(dir, { recursive: true });
  // node-fetch's "cjs" dist-tag, which Verdaccio's dependencies ask for, is missing from some mirrors.
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ private: true, dependencies: { verdaccio: '^6' }, overrides: { 'node-fetch': '2.7.0' } }));
  try {
    process.stdout.write(`  (installing Verdaccio into ${dir})\n`);
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, stdio: 'ignore', timeout: 600_000 });
  } catch (err) {
    process.stdout.write(`  Verdaccio could not be installed here: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}\n`);
    return null;
  }
  return fs.existsSync(bin) ? bin : null;
}

/** Incompressible filler: base64 of random bytes gzips back to about `bytes`. */
const tarballOf = (bytes: number) => zlib.gzipSync(crypto.randomBytes(bytes).toString('base64'));
const npmName = (p: { author: string; name: string }) => `@${p.author}/${p.name}`;
/** The path of a package in Verdaccio's API (`@scope%2fname`, as npm sends it). */
const apiPath = (p: { author: string; name: string }) => `/@${p.author}%2f${p.name}`;
const PLACEHOLDER = 'http://127.0.0.1';

function manifest(name: string, version: string, tarball: Buffer, registry: string) {
  const file = `${name.split('/')[1]}-${version}.tgz`;
  const dist = { shasum: crypto.createHash('sha1').update(tarball).digest('hex'), integrity: `sha512-${crypto.createHash('sha512').update(tarball).digest('base64')}`, tarball: `${registry}/${name}/-/${file}` };
  return { file, manifest: { name, version, description: `Benchmark package ${name}`, dist } };
}

/** The document `npm publish` sends for one new version of `name`, the tarball attached. */
function npmDocument(name: string, version: string, tarball: Buffer, registry: string): string {
  const { file, manifest: m } = manifest(name, version, tarball, registry);
  const attachment = { content_type: 'application/octet-stream', data: tarball.toString('base64'), length: tarball.length };
  return JSON.stringify({ _id: name, name, description: m.description, 'dist-tags': { latest: version }, versions: { [version]: m }, _attachments: { [file]: attachment } });
}

/** Writes one package into Verdaccio's storage as Verdaccio itself lays it out: the tarballs and the package.json it keeps. */
function writePackage(storage: string, pkg: HeldPackage): void {
  const name = npmName(pkg);
  const folder = path.join(storage, `@${pkg.author}`, pkg.name);
  fs.mkdirSync(folder, { recursive: true });
  const now = new Date().toISOString();
  const doc = { name, versions: {} as Record<string, unknown>, time: { modified: now, created: now } as Record<string, string>, users: {}, 'dist-tags': { latest: pkg.versions.at(-1) }, _uplinks: {}, _distfiles: {}, _attachments: {} as Record<string, unknown>, _rev: `${pkg.versions.length}-${crypto.randomBytes(8).toString('hex')}`, _id: name, readme: '' };
  for (const version of pkg.versions) {
    const tarball = tarballOf(1500);
    const { file, manifest: m } = manifest(name, version, tarball, PLACEHOLDER);
    fs.writeFileSync(path.join(folder, file), tarball);
    doc.versions[version] = { ...m, contributors: [] };
    doc.time[version] = now;
    doc._attachments[file] = { shasum: m.dist.shasum, version };
  }
  fs.writeFileSync(path.join(folder, 'package.json'), JSON.stringify(doc, null, '\t'));
}

/**
 * A Verdaccio storage folder holding what `workload` holds at `versions` versions, each package
 * scoped by its author (`@author/name`), ~1.5 KB tarballs, written straight to disk in the
 * layout Verdaccio writes (much faster than publishing each). Each round works on a copy.
 */
export function buildVerdaccioTemplate(dir: string, workload: Workload, versions: number): void {
  const storage = path.join(dir, 'storage');
  const held = workload.held(versions);
  for (const pkg of held) writePackage(storage, pkg);
  fs.writeFileSync(path.join(storage, '.verdaccio-db.json'), JSON.stringify({ list: held.map(npmName), secret: crypto.randomBytes(24).toString('base64') }));
}

function writeConfig(dir: string): string {
  const file = path.join(dir, 'config.yaml');
  fs.writeFileSync(
    file,
    `storage: ${dir}/storage\nauth:\n  htpasswd:\n    file: ${dir}/htpasswd\n    max_users: 10\nuplinks: {}\npackages:\n  '**':\n    access: $all\n    publish: $authenticated\nmax_body_size: 20mb\nsecurity:\n  api:\n    jwt:\n      sign:\n        expiresIn: 1d\nlog: { type: stdout, format: json, level: error }\n`,
  );
  return file;
}

/** Fails unless Verdaccio serves the last package held with every version the template wrote. */
async function checkHeld(url: string, options: RoundOptions): Promise<void> {
  const first = options.workload.held(options.versions).at(-1) as HeldPackage;
  const res = await fetch(`${url}${apiPath(first)}`);
  const doc = (await res.json()) as { versions?: Record<string, unknown> };
  const served = Object.keys(doc.versions ?? {}).length;
  if (res.status !== 200 || served !== first.versions.length) throw new Error(`Verdaccio serves ${served} versions of ${npmName(first)} (status ${res.status}), not the ${first.versions.length} written`);
}

/** One round of Verdaccio on a copy of the template: the same runs as the Gren registry's, over npm's publish API. */
export async function verdaccioRound(bin: string, template: string, options: RoundOptions): Promise<RoundRuns> {
  const dir = path.join(options.work, 'verdaccio-round');
  copyFolder(template, dir);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = spawnServer(process.execPath, [bin, '--config', writeConfig(dir), '--listen', `127.0.0.1:${port}`], { cwd: dir, env: {} });
  try {
    await waitUntilAnswering(`${url}/-/ping`, server);
    await checkHeld(url, options);
    const user = await fetch(`${url}/-/user/org.couchdb.user:bench`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'bench', password: 'bench-password' }) });
    const { token } = (await user.json()) as { token: string };
    const publisher = preparedPublisher({
      target: (run, client, i) => options.workload.target(options.versions, run, client, i),
      prepareOne: (t: Target) => npmDocument(npmName(t), t.version, tarballOf(30_000), url),
      send: async (t, body) => {
        const res = await fetch(`${url}${apiPath(t)}`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body });
        const text = await res.text();
        if (res.status !== 201 && res.status !== 200) throw new Error(`Verdaccio publish ${npmName(t)}@${t.version}: ${res.status} ${text}`);
      },
    });
    return await standardRuns(publisher, options.counts);
  } finally {
    await killNow(server.child);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
