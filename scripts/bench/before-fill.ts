#!/usr/bin/env node
// Fills a data folder for an earlier build of the registry with that build's own code, in the
// layout it reads: every file of a version (bundle.pkg.gz, gren.json) and each package's
// index.json in `main`'s tree, fifty packages a commit, then packed; a publishing identity for
// every author (PADDING: about how many bytes each bundle weighs). Run by the publish and clone
// benchmarks as a child process:
//   node scripts/bench/before-fill.ts BUILD_FOLDER DATA_FOLDER WORKLOAD VERSIONS [PADDING]
import { loadBeforeModules, type BeforeModules } from './before-modules.ts';
import { entryOf, inBatches, readBundle, type FillPackage } from './fill.ts';
import { heldBundles, HELD_PADDING } from './held-bundles.ts';
import { WORKLOADS } from './publish-workloads.ts';
import { addIdentities, PUBLIC_URL } from './registry-build.ts';

type FileChange = { path: string; content: Uint8Array };

/** The files of one package, every version, as that build's publishes wrote them. */
function packageFiles(old: BeforeModules, { name, versions }: FillPackage): FileChange[] {
  const paths = old.packagePaths(name);
  if (paths.bundleRef) throw new Error('this build keeps bundles on refs of their own, not in main\'s tree: --before takes a commit from before that change');
  const published = new Date().toISOString();
  const files: FileChange[] = [];
  const entries = versions.map(({ version, bytes }) => {
    const bundle = readBundle(bytes);
    files.push({ path: paths.bundle(version), content: bytes }, { path: paths.outline(version), content: Buffer.from(JSON.stringify(bundle.outline, null, 4) + '\n') });
    return entryOf(version, bundle, published);
  });
  files.push({ path: paths.index, content: old.encodeIndex({ name, versions: entries }) });
  return files;
}

async function fill(old: BeforeModules, dir: string, packages: Iterable<FillPackage>): Promise<void> {
  const paths = old.dataPaths(dir);
  const log = old.quietLogger();
  const config = old.loadConfig({ REGISTRY_DATA: dir, REGISTRY_URL: PUBLIC_URL });
  const index = await old.openIndexRepo({ gitDir: paths.publicGit, servedDir: paths.publicServed, clock: old.systemClock, log, name: 'public', required: { 'config.json': old.indexConfigFile(config) } });
  try {
    await inBatches(packages, async (batch) => {
      const changes = batch.flatMap((pkg) => packageFiles(old, pkg));
      await index.update(() => ({ message: `Fill ${batch.length} packages`, changes, result: null }));
    });
    await index.maintain();
  } finally {
    await index.close();
  }
}

const [root, dir, workloadKey, versionsText, paddingText] = process.argv.slice(2);
const workload = WORKLOADS.find((w) => w.key === workloadKey);
const versions = Number(versionsText);
const padding = paddingText === undefined ? HELD_PADDING : Number(paddingText);
if (!root || !dir || !workload || !(versions >= 1) || !(padding >= 0)) {
  process.stderr.write('Usage: node scripts/bench/before-fill.ts BUILD_FOLDER DATA_FOLDER WORKLOAD VERSIONS [PADDING]\n');
  process.exit(2);
}
const old = await loadBeforeModules(root);
await fill(old, dir, heldBundles(workload, versions, padding));
addIdentities(old.openAccounts({ file: old.dataPaths(dir).accounts, clock: old.systemClock, log: old.quietLogger() }), workload.held(versions).map((p) => p.author));
