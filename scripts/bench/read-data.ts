import crypto from 'node:crypto';
import { bundle as buildBundle, outlineOf } from '../../test/helpers/bundle.ts';
import { systemClock } from '../../gateway/clock.ts';
import type { Config } from '../../gateway/config.ts';
import { indexConfigFile } from '../../gateway/index-config.ts';
import { dataPaths } from '../../gateway/registry.ts';
import { encodeIndex, packagePaths, type VersionEntry } from '../../gateway/packages/version-index.ts';
import { openIndexRepo } from '../../index-repo/open-index-repo.ts';
import type { FileChange } from '../../index-repo/types.ts';
import { quietLogger } from '../admin/ops-cli.ts';

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

function outline(name: string, version: string): Buffer {
  return Buffer.from(JSON.stringify(outlineOf(spec(name, version)), null, 4) + '\n');
}

/** A real bundle of about 30 KB once gzip'd: random base64 (six bits a byte) fills its source. */
function bundle(name: string, version: string): Buffer {
  return buildBundle({ ...spec(name, version), padding: BUNDLE_BYTES });
}

function entry(version: string, content: Buffer): VersionEntry {
  return {
    version,
    'gren-version': '0.6.0 <= v < 0.7.0',
    platform: 'common',
    dependencies: { 'gren-lang/core': '7.0.0 <= v < 8.0.0' },
    sha256: crypto.createHash('sha256').update(content).digest('hex'),
    size: content.length,
    published: new Date().toISOString(),
    revoked: null,
  };
}

/** One package's files: each version's outline and bundle, and its index.json. */
function packageFiles(name: string, versions: number): FileChange[] {
  const paths = packagePaths(name);
  const changes: FileChange[] = [];
  const entries: VersionEntry[] = [];
  for (let minor = 0; minor < versions; minor++) {
    const version = `1.${minor}.0`;
    const content = bundle(name, version);
    changes.push({ path: paths.outline(version), content: outline(name, version) }, { path: paths.bundle(version), content });
    entries.push(entry(version, content));
  }
  changes.push({ path: paths.index, content: encodeIndex({ name, versions: entries }) });
  return changes;
}

/**
 * Fills a registry data folder through the index repository itself: a hot package of twelve
 * versions and `packages` packages of one version each, fifty packages a commit.
 */
export async function fillReadData(config: Config, packages: number): Promise<ReadFiles> {
  const paths = dataPaths(config.dataDir);
  const index = await openIndexRepo({
    gitDir: paths.publicGit,
    servedDir: paths.publicServed,
    clock: systemClock,
    log: quietLogger(),
    name: 'public',
    required: { 'config.json': indexConfigFile(config) },
  });
  try {
    const names = Array.from({ length: packages }, (_, i) => `bench/package-${i}`);
    await index.update(() => ({ message: `Publish ${HOT}`, changes: packageFiles(HOT, 12), result: null }));
    for (let start = 0; start < names.length; start += 50) {
      const batch = names.slice(start, start + 50);
      const changes = batch.flatMap((name) => packageFiles(name, 1));
      await index.update(() => ({ message: `Publish ${batch.length} packages`, changes, result: null }));
    }
    const hot = packagePaths(HOT);
    return { hotIndex: hot.index, hotBundle: hot.bundle('1.11.0'), hotOutline: hot.outline('1.11.0'), indexes: [hot.index, ...names.map((name) => packagePaths(name).index)] };
  } finally {
    await index.close();
  }
}
