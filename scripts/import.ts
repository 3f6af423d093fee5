#!/usr/bin/env node
// Imports a folder of .pkg.gz bundles into the registry, in dependency order, through the publish path.
import fs from 'node:fs';
import { systemClock } from '../gateway/clock.ts';
import { normaliseEmail } from '../gateway/accounts/email.ts';
import { dataPaths } from '../gateway/registry.ts';
import { normaliseRegistryUrl } from './client/registry-client.ts';
import { dependencyOrder, readBundleFolder } from './admin/bundle-folder.ts';
import { importBundles, type Outcome } from './admin/importer.ts';
import { openPublishAccess } from './admin/publish-access.ts';
import { registryForData } from './admin/registry-for-data.ts';
import { dataFolder, quietLogger, readArgs, runScript, UsageError } from './admin/ops-cli.ts';

const help = `Usage: node scripts/import.ts FOLDER --admin EMAIL [--data DIR] [--registry URL] [--json]

Imports every .pkg.gz bundle of FOLDER (a project's gren_packages/, say) in dependency
order, each through the registry's own validation and commit path. Each bundle's author is
a publishing identity, created with EMAIL as its admin when missing; EMAIL must be allowed
to publish in identities that exist already. Each bundle is imported, skipped as present,
or refused with its reason. Safe to run twice, and while the registry runs.

  --admin EMAIL   Who imports: admin of the identities created, owner of the short-lived
                  publish tokens used (revoked at the end).
  --data DIR      The registry's data folder (default: $REGISTRY_DATA, or ./data).
  --registry URL  The registry running on that data folder. Without it, and when none
                  runs, one is started in this process for the import.
  --json          Print the outcomes and the summary as JSON.

Exits 0 when every bundle is imported or present, 1 when some were refused, 2 on a usage error.
`;

function describe(outcome: Outcome): string {
  const label = outcome.result.padEnd(10);
  if (outcome.result === 'refused' && outcome.name === null) return `${label}${outcome.file}: ${outcome.reason} [${outcome.code}]`;
  const what = `${outcome.name} ${outcome.version}`;
  if (outcome.result === 'imported') return `${label}${what}  (${outcome.file})`;
  if (outcome.result === 'skipped') return `${label}${what}  (${outcome.file}): ${outcome.reason}`;
  return `${label}${what}  (${outcome.file}): ${outcome.reason} [${outcome.code}]`;
}

async function main(): Promise<number> {
  const { values, positionals } = readArgs('import', process.argv.slice(2), {
    admin: { type: 'string' },
    data: { type: 'string' },
    registry: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const [folder] = positionals;
  if (positionals.length !== 1 || folder === undefined) throw new UsageError('import: give exactly one FOLDER of .pkg.gz bundles.');
  const admin = normaliseEmail(values.admin);
  if (admin === null) throw new UsageError('import: --admin EMAIL is required, and must be an email address.');
  if (!fs.statSync(folder, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`${folder} is not a folder.`);
  const dataDir = dataFolder(values.data, process.env, process.cwd());
  const registryUrl = typeof values.registry === 'string' ? normaliseRegistryUrl(values.registry) : null;
  const json = values.json === true;
  const log = quietLogger();

  const { bundles, unreadable } = await readBundleFolder(folder);
  const outcomes: Outcome[] = unreadable.map((u) => ({ file: u.file, name: null, version: null, result: 'refused', code: 'invalid_bundle', reason: u.reason }));
  if (!json) for (const outcome of outcomes) process.stdout.write(`${describe(outcome)}\n`);

  const registry = await registryForData({ dataDir, registryUrl, env: process.env, log });
  try {
    const access = openPublishAccess({ accountsFile: dataPaths(dataDir).accounts, adminEmail: admin, clock: systemClock, log });
    try {
      if (!json) process.stdout.write(`Importing ${bundles.length} bundles through ${registry.inProcess ? `a registry started on ${dataDir}` : registry.url}\n`);
      const onOutcome = (outcome: Outcome) => {
        if (!json) process.stdout.write(`${describe(outcome)}\n`);
      };
      outcomes.push(...(await importBundles({ url: registry.url, access, bundles: dependencyOrder(bundles), onOutcome })));
    } finally {
      access.close();
    }
  } finally {
    await registry.close();
  }
  const count = (result: Outcome['result']) => outcomes.filter((o) => o.result === result).length;
  const summary = { imported: count('imported'), skipped: count('skipped'), refused: count('refused'), bundles: outcomes.length };
  if (json) process.stdout.write(`${JSON.stringify({ outcomes, summary }, null, 2)}\n`);
  else process.stdout.write(`Imported ${summary.imported}, skipped ${summary.skipped} as present, refused ${summary.refused}, of ${summary.bundles} bundles.\n`);
  return summary.refused === 0 ? 0 : 1;
}

await runScript(help, main);
