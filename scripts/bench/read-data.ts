import { bundle as buildBundle } from '../../test/helpers/bundle.ts';
import type { Config } from '../../gateway/config.ts';
import { packagePaths } from '../../gateway/packages/version-index.ts';
import { fillPackages, type FillPackage } from './fill.ts';

/** The files a read benchmark asks for, as paths below /index/. */
export type ReadFiles = {
  /** A package of twelve versions, as the hot packages of a registry are. */
  hotIndex: string;
  hotBundle: string;
  hotOutline: string;
  /** The index.json of every package, to ask for in turn. */
  indexes: string[];
};

const HOT = 'bench/hot';
const BUNDLE_BYTES = 30 * 1024;

const spec = (name: string, version: string) => ({ name, version, deps: { 'gren-lang/core': '7.0.0 <= v < 8.0.0' } });

/** A package of `versions` versions, each a real bundle of about 30 KB once gzip'd (random base64, six bits a byte, fills its source). */
function filled(name: string, versions: number): FillPackage {
  return { name, versions: Array.from({ length: versions }, (_, minor) => ({ version: `1.${minor}.0`, bytes: buildBundle({ ...spec(`${name}`, `1.${minor}.0`), padding: BUNDLE_BYTES }) })) };
}

/**
 * Fills a registry data folder through the index repository itself: a hot package of twelve
 * versions and `packages` packages of one version each, fifty packages a commit.
 */
export async function fillReadData(config: Config, packages: number): Promise<ReadFiles> {
  const names = Array.from({ length: packages }, (_, i) => `bench/package-${i}`);
  await fillPackages(config, [filled(HOT, 12), ...names.map((name) => filled(name, 1))]);
  const hot = packagePaths(HOT);
  return { hotIndex: hot.index, hotBundle: hot.bundle('1.11.0'), hotOutline: hot.outline('1.11.0'), indexes: [hot.index, ...names.map((name) => packagePaths(name).index)] };
}
