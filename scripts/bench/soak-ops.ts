import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { bundle } from '../../test/helpers/bundle.ts';
import { call } from '../../test/helpers/http.ts';
import { pick, type SoakCatalog, type SoakPackage } from './soak-catalog.ts';
import { expectStatus, Unexpected } from './soak-tally.ts';

/** What the soak's clients share: the registry, the catalog of what they published, the session that publishes (an admin of every author), a folder for clones. */
export type OpsContext = { url: string; catalog: SoakCatalog; token: string; work: string };

/** What one client remembers between its requests: the ETags of what it read. */
export type ClientState = { etags: Map<string, string> };

const run = promisify(execFile);
const compiler = '0.6.3';

/** A path as a failure names it: without the package and version it was read for. */
const shapeOf = (path: string) => path.replace(/packages\/[^/]+\/[^/]+/, 'packages/<package>').replace(/\/\d+\.\d+\.\d+\//, '/<version>/');

/** GET with the client's ETag of `path`, if any; answers the body (empty for a 304). */
async function conditionalGet(ctx: OpsContext, client: ClientState, path: string, expected: number[]): Promise<Buffer> {
  const etag = client.etags.get(path);
  const res = await fetch(`${ctx.url}${path}`, { headers: etag ? { 'if-none-match': etag } : {} });
  await expectStatus(res, expected, `GET ${shapeOf(path)}`);
  const fresh = res.headers.get('etag');
  if (fresh) client.etags.set(path, fresh);
  return Buffer.from(await res.arrayBuffer());
}

/** A read of the static index: config.json, a package's index.json, a kept version's bundle or gren.json. */
export async function readIndex(ctx: OpsContext, client: ClientState): Promise<void> {
  const pkg = pick(ctx.catalog.packages);
  const dir = `/index/packages/${pkg.fullName}`;
  const r = Math.random();
  if (r < 0.1) await conditionalGet(ctx, client, '/index/config.json', [200, 304]);
  else if (r < 0.6) {
    const body = await conditionalGet(ctx, client, `${dir}/index.json`, [200, 304]);
    if (body.length > 0) JSON.parse(body.toString('utf8'));
  } else if (r < 0.85) await conditionalGet(ctx, client, `${dir}/${pick(pkg.kept)}/bundle.pkg.gz`, [200, 304]);
  else await conditionalGet(ctx, client, `${dir}/${pick(pkg.published)}/gren.json`, [200, 304]);
}

/** A call of the JSON API a compiler or a site makes: latest, previous, the package list, health. */
export async function readApi(ctx: OpsContext, client: ClientState): Promise<void> {
  const pkg = pick(ctx.catalog.packages);
  const kept = pick(pkg.kept);
  const r = Math.random();
  const json = async (path: string, expected: number[], what: string) => (await expectStatus(await call(ctx.url, 'GET', path), expected, what)).arrayBuffer();
  if (r < 0.3) await json(`/packages/${pkg.fullName}/latest?gren=${compiler}`, [200], 'GET latest?gren=');
  else if (r < 0.45) await json(`/packages/${pkg.fullName}/latest`, [200], 'GET latest');
  // The first version has none before it.
  else if (r < 0.7) await json(`/packages/${pkg.fullName}/previous/${kept}`, [kept === pkg.kept[0] ? 404 : 200], 'GET previous');
  else if (r < 0.9) await conditionalGet(ctx, client, '/packages', [200, 304]);
  else await json('/healthz', [200], 'GET /healthz');
}

/** The bundle of a soak version: two exposed modules, `padding` bytes of incompressible source, a dependency on the base package. */
export function soakBundle(catalog: SoakCatalog, pkg: SoakPackage, version: string, padding: number): Buffer {
  const deps = pkg === catalog.base ? {} : { [catalog.base.fullName]: '1.0.0 <= v < 2.0.0' };
  return bundle({ name: pkg.fullName, version, deps, exposed: ['Soak', 'Soak.Part'], padding });
}

/** A new version of `pkg` (by default one of the soak's packages, at random), 1 to 40 KB. */
export async function publish(ctx: OpsContext, pkg: SoakPackage = pick(ctx.catalog.packages)): Promise<void> {
  const next = ctx.catalog.nextVersion(pkg);
  const body = soakBundle(ctx.catalog, pkg, next.version, 1000 + Math.floor(Math.random() * 39_000));
  const res = await fetch(`${ctx.url}/packages/${pkg.fullName}/${next.version}`, { method: 'PUT', headers: { authorization: `Bearer ${ctx.token}`, 'content-type': 'application/gzip' }, body });
  await (await expectStatus(res, [201], 'PUT /packages/<package>/<version>')).arrayBuffer();
  next.published();
}

/** The revoke of a version published to be revoked; answers false when none waits. */
export async function revoke(ctx: OpsContext): Promise<boolean> {
  const taken = ctx.catalog.takeRevocable();
  if (!taken) return false;
  const { pkg, version } = taken;
  const res = await call(ctx.url, 'DELETE', `/packages/${pkg.fullName}/${version}`, { token: ctx.token, body: { reason: 'soak' } });
  const entry = (await (await expectStatus(res, [200], 'DELETE /packages/<package>/<version>')).json()) as { revoked: unknown };
  if (!entry.revoked) throw new Unexpected('DELETE /packages/<package>/<version>', 'the answer does not say revoked');
  return true;
}

async function git(args: string[], what: string): Promise<string> {
  try {
    const { stdout } = await run('git', args, { env: { ...process.env, GIT_TERMINAL_PROMPT: '0' }, timeout: 120_000, maxBuffer: 1 << 26 });
    return stdout;
  } catch (err) {
    throw new Unexpected(what, (err as { stderr?: string }).stderr || (err as Error).message);
  }
}

/** A Git client's work: a shallow clone of a kept version (as gren 0.6 fetches one), an ls-remote, or a shallow clone of the index. */
export async function gitCommand(ctx: OpsContext): Promise<void> {
  const pkg: SoakPackage = pick(ctx.catalog.packages);
  const version = pick(pkg.kept);
  const repository = `${ctx.url}/git/${Math.random() < 0.5 ? `gren-${compiler}/` : ''}${pkg.fullName}.git`;
  const dir = path.join(ctx.work, `clone-${Math.random().toString(36).slice(2)}`);
  const r = Math.random();
  try {
    if (r < 0.5) {
      await git(['clone', '--quiet', '--depth', '1', '--branch', version, repository, dir], 'git clone --depth 1 --branch');
      const outline = JSON.parse(fs.readFileSync(path.join(dir, 'gren.json'), 'utf8')) as { version: string };
      if (outline.version !== version) throw new Unexpected('git clone --depth 1 --branch', `cloned ${outline.version}, asked ${version}`);
    } else if (r < 0.85) {
      const refs = await git(['ls-remote', repository], 'git ls-remote');
      if (!refs.includes(`refs/tags/${version}\n`)) throw new Unexpected('git ls-remote', `no tag ${version}`);
    } else {
      await git(['clone', '--quiet', '--depth', '1', `${ctx.url}/index.git`, dir], 'git clone --depth 1 index.git');
      if (!fs.existsSync(path.join(dir, 'config.json'))) throw new Unexpected('git clone --depth 1 index.git', 'no config.json');
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
