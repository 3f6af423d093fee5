#!/usr/bin/env node
// Checks a registry data folder: both index repositories, every index.json entry, the served files, privacy.
import fs from 'node:fs';
import { dataPaths } from '../gateway/registry.ts';
import { servedBundles } from '../gateway/packages/version-index.ts';
import { checkRepository } from './admin/check-repository.ts';
import { checkServed } from './admin/check-served.ts';
import { checkPrivacy } from './admin/check-private.ts';
import { resolveCommit } from './admin/git-cli.ts';
import { dataFolder, readArgs, runScript, UsageError } from './admin/ops-cli.ts';

const help = `Usage: node scripts/verify.ts [--data DIR] [--json]

Checks a registry data folder (default: $REGISTRY_DATA, or ./data); safe while the registry runs:
  - git fsck --full of the public (index.git) and private (private.git) repositories;
  - every index.json entry of main against its files: gren.json on main; for an unrevoked
    version, its bundle ref with the recorded size and SHA-256 and its tag holding the bundle's
    gren.json and sources; for a revoked one, no ref, and its bundle in no object of the
    repository, reachable or not; no file or content ref left unlisted; no bundle anywhere in
    the history of main;
  - the served folder index/ against the tree of main of index.git and its bundles, file by file;
  - no private package (any package of private.git) anywhere in the public repository's
    history or content refs, and no "private": true outline on its main.

Prints one line per finding; exits 0 when there is none, 1 when there are, 2 on a usage error.
`;

/** The checks that read the two repositories and the served folder as of one commit of public main. */
async function findings(dataDir: string): Promise<{ lines: string[]; head: string | null }> {
  const paths = dataPaths(dataDir);
  const publicRepo = await checkRepository('public', paths.publicGit);
  const privateRepo = await checkRepository('private', paths.privateGit);
  const lines = [...publicRepo.findings, ...privateRepo.findings];
  const bundles = new Map<string, string>();
  for (const [ref, { oid }] of publicRepo.refs) {
    const file = servedBundles.pathOf(ref);
    if (file !== null) bundles.set(file, oid);
  }
  if (publicRepo.head !== null) lines.push(...(await checkServed(paths.publicServed, publicRepo.tree, bundles)));
  if (fs.existsSync(paths.publicGit)) lines.push(...(await checkPrivacy(paths.publicGit, privateRepo.packages, publicRepo.privateOutlines, [...publicRepo.refs.keys()])));
  return { lines, head: publicRepo.head };
}

async function main(): Promise<number> {
  const { values, positionals } = readArgs('verify', process.argv.slice(2), { data: { type: 'string' }, json: { type: 'boolean' } });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`verify: unexpected argument "${positionals[0]}"; the data folder is given with --data DIR.`);
  const dataDir = dataFolder(values.data, process.env, process.cwd());
  if (!fs.existsSync(dataDir)) throw new Error(`${dataDir} does not exist.`);
  let result = await findings(dataDir);
  // A publish may land while the served folder is read: check again once if main moved meanwhile.
  if (result.lines.length > 0 && result.head !== (await resolveCommit(dataPaths(dataDir).publicGit, 'refs/heads/main'))) {
    result = await findings(dataDir);
  }
  if (values.json) process.stdout.write(`${JSON.stringify({ data: dataDir, commit: result.head, findings: result.lines }, null, 2)}\n`);
  else if (result.lines.length === 0) process.stdout.write(`${dataDir}: no findings (public main ${result.head ?? 'none'}).\n`);
  else process.stdout.write(result.lines.map((line) => `${line}\n`).join(''));
  return result.lines.length === 0 ? 0 : 1;
}

await runScript(help, main);
