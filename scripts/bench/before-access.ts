#!/usr/bin/env node
// Publish tokens for a round of an earlier build of the registry, minted by that build's own
// admin tools (openPublishAccess) in its accounts database. Run by the publish benchmark as a
// child process:
//   node scripts/bench/before-access.ts BUILD_FOLDER DATA_FOLDER
// It reads one line, {"authors": [...]}, and answers one line on stdout, {"tokens": {author:
// token}} or {"refused": why}, to the benchmark alone (never a log); when its stdin closes it
// revokes every token it minted and exits.
import readline from 'node:readline';
import { loadBeforeModules } from './before-modules.ts';
import { ADMIN } from './registry-build.ts';

const [root, dir] = process.argv.slice(2);
if (!root || !dir) {
  process.stderr.write('Usage: node scripts/bench/before-access.ts BUILD_FOLDER DATA_FOLDER\n');
  process.exit(2);
}
const old = await loadBeforeModules(root);
const access = old.openPublishAccess({ accountsFile: old.dataPaths(dir).accounts, adminEmail: ADMIN, clock: old.systemClock, log: old.quietLogger() });

/** Every author's token, or why one was refused. */
function mint(authors: string[]): { tokens: Record<string, string> } | { refused: string } {
  const tokens: Record<string, string> = {};
  for (const author of authors) {
    const grant = access.tokenFor(author);
    if (!('token' in grant)) return { refused: grant.refused };
    tokens[author] = grant.token;
  }
  return { tokens };
}

const lines = readline.createInterface({ input: process.stdin });
let answered = false;
lines.on('line', (line) => {
  if (answered) return;
  answered = true;
  const { authors } = JSON.parse(line) as { authors: string[] };
  process.stdout.write(`${JSON.stringify(mint(authors))}\n`);
});
lines.on('close', () => access.close());
