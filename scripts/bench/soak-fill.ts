import { loadConfig } from '../../gateway/config.ts';
import { fillPackages, type FillPackage } from './fill.ts';
import type { SoakCatalog } from './soak-catalog.ts';
import { soakBundle } from './soak-ops.ts';
import { expectStatus } from './soak-tally.ts';

/**
 * Fills the data folder before the registry starts (through the index repository, as
 * publishes would leave it): the base package, then `each` versions of every package, whose
 * bundles weigh `bytes` in all. Answers what they weigh.
 */
export async function fillSoak(options: { dataDir: string; port: number; catalog: SoakCatalog; each: number; bytes: number }): Promise<number> {
  const { catalog, each } = options;
  const padding = Math.round(options.bytes / (each * catalog.packages.length));
  const published: Array<() => void> = [];
  const fill = (pkg: (typeof catalog.packages)[number], count: number): FillPackage => ({
    name: pkg.fullName,
    versions: Array.from({ length: count }, () => {
      const next = catalog.nextVersion(pkg);
      published.push(next.published);
      // From half to one and a half times the mean, so that sizes vary as real ones do.
      return { version: next.version, bytes: soakBundle(catalog, pkg, next.version, Math.round(padding * (0.5 + Math.random()))) };
    }),
  });
  const packages = [fill(catalog.base, 1), ...catalog.packages.map((pkg) => fill(pkg, each))];
  const config = loadConfig({ REGISTRY_DATA: options.dataDir, PORT: String(options.port), REGISTRY_URL: `http://127.0.0.1:${options.port}` });
  await fillPackages(config, packages);
  for (const done of published) done();
  return packages.reduce((sum, p) => sum + p.versions.reduce((s, v) => s + v.bytes.length, 0), 0);
}

/**
 * Reads every file of the soak's packages once (each index.json, every gren.json, every kept
 * bundle), `parallel` at once, so that the registry's caches are full before it is measured:
 * their filling is not mistaken for a leak.
 */
export async function readEverything(url: string, catalog: SoakCatalog, parallel = 8): Promise<void> {
  const paths = [catalog.base, ...catalog.packages].flatMap((pkg) => {
    const dir = `/index/packages/${pkg.fullName}`;
    return [`${dir}/index.json`, ...pkg.published.map((v) => `${dir}/${v}/gren.json`), ...pkg.kept.map((v) => `${dir}/${v}/bundle.pkg.gz`)];
  });
  const reader = async () => {
    for (let path = paths.pop(); path !== undefined; path = paths.pop()) await (await expectStatus(await fetch(`${url}${path}`), [200], `GET ${path}`)).arrayBuffer();
  };
  await Promise.all(Array.from({ length: parallel }, reader));
}
