#!/usr/bin/env node
// Backs up a registry's databases while it runs, and says how to mirror its index repositories.
import fs from 'node:fs';
import path from 'node:path';
import { dataPaths } from '../gateway/registry.ts';
import { backupDatabase, type BackupResult } from './admin/sqlite-backup.ts';
import { dataFolder, readArgs, runScript, UsageError } from './admin/ops-cli.ts';
import { formatBytes } from './client/output.ts';

const help = `Usage: node scripts/backup.ts DEST [--data DIR] [--json]

Copies the accounts database (users, sessions, tokens, identities) and the notifications
database (deliveries still owed) of the data folder DIR (default: $REGISTRY_DATA, or ./data)
into the folder DEST, with SQLite's online backup: consistent, and safe while the registry
runs. Each copy is checked with PRAGMA integrity_check and written with mode 0600.

The index repositories are Git repositories: keep mirrors of them with git clone --mirror
and git fetch (printed at the end).
`;

function mirrorAdvice(dataDir: string, dest: string): string {
  const paths = dataPaths(dataDir);
  const mirror = (name: string) => path.join(dest, name);
  return `
The index repositories are not copied here: keep Git mirrors of them, which hold every commit
(the whole public history and the private packages), and bring them up to date cheaply.
Once:
  git clone --mirror --no-hardlinks ${paths.publicGit} ${mirror('index.git')}
  git clone --mirror --no-hardlinks ${paths.privateGit} ${mirror('private.git')}
Then as often as the databases are backed up:
  git -C ${mirror('index.git')} fetch --prune
  git -C ${mirror('private.git')} fetch --prune
A mirror of the public index can also be kept from anywhere: git clone --mirror <registry URL>/index.git
To restore: stop the registry, copy accounts.sqlite and notifications.sqlite into the data folder,
replace index.git and private.git by the mirrors (git clone --mirror <mirror> <data>/index.git),
and start it with the same settings (REGISTRY_URL included): it rebuilds the served folder
index/ from main. Then check the whole folder: node scripts/verify.ts --data <data folder>
`;
}

async function main(): Promise<number> {
  const { values, positionals } = readArgs('backup', process.argv.slice(2), { data: { type: 'string' }, json: { type: 'boolean' } });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const [dest] = positionals;
  if (positionals.length !== 1 || dest === undefined) throw new UsageError('backup: give exactly one DEST folder.');
  const dataDir = dataFolder(values.data, process.env, process.cwd());
  const paths = dataPaths(dataDir);
  if (!fs.existsSync(paths.accounts)) throw new Error(`${paths.accounts} does not exist: is ${dataDir} a registry data folder?`);
  const target = path.resolve(dest);
  fs.mkdirSync(target, { recursive: true, mode: 0o700 });
  const copies: BackupResult[] = [await backupDatabase(paths.accounts, path.join(target, 'accounts.sqlite'))];
  if (fs.existsSync(paths.notifications)) copies.push(await backupDatabase(paths.notifications, path.join(target, 'notifications.sqlite')));
  const dir = fs.openSync(target, 'r');
  fs.fsyncSync(dir);
  fs.closeSync(dir);
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ data: dataDir, copies }, null, 2)}\n`);
    return 0;
  }
  for (const copy of copies) process.stdout.write(`Copied ${path.basename(copy.file)}: ${copy.pages} pages, ${formatBytes(copy.bytes)}, integrity ok -> ${copy.file}\n`);
  process.stdout.write(mirrorAdvice(dataDir, target));
  return 0;
}

await runScript(help, main);
