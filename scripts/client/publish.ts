import fs from 'node:fs/promises';
import path from 'node:path';
import type { CommandSpec } from './args.ts';
import { packageName, packagePath, version } from './arguments.ts';
import { buildBundle, BundleError, readBundleFile, type Bundle } from './bundle.ts';
import { CliError } from './cli-error.ts';
import type { Context } from './context.ts';
import { formatBytes } from './output.ts';

type Published = { name: string; version: string; sha256: string; commit: string };

async function loadBundle(target: string): Promise<{ bundle: Bundle; built: boolean }> {
  let stat;
  try {
    stat = await fs.stat(target);
  } catch {
    throw new CliError('not_found', `${target} does not exist: give a package folder or a .pkg.gz bundle.`);
  }
  try {
    if (stat.isDirectory()) return { bundle: await buildBundle(target), built: true };
    return { bundle: await readBundleFile(target), built: false };
  } catch (err) {
    if (err instanceof BundleError) throw new CliError('invalid_package', err.message);
    throw err;
  }
}

/** The package and version the bundle says it is; a bundle that does not say cannot be published. */
function identify(bundle: Bundle, source: string): { pkg: ReturnType<typeof packageName>; version: string } {
  const { outline } = bundle;
  if (outline['type'] !== 'package' || typeof outline['name'] !== 'string' || typeof outline['version'] !== 'string') {
    throw new CliError('invalid_package', `${source} does not hold a package: its gren.json needs "type": "package", a "name" and a "version".`);
  }
  try {
    return { pkg: packageName(outline['name']), version: version(outline['version']) };
  } catch (err) {
    throw new CliError('invalid_package', `${source}: gren.json's ${(err as Error).message}`);
  }
}

function describe(context: Context, bundle: Bundle, what: { full: string; version: string }, source: string): void {
  const { outline } = bundle;
  const modules = Object.keys(bundle.sources);
  const kernel = modules.filter((m) => m.startsWith('Gren.Kernel.')).length;
  const dependencies = Object.entries((outline['dependencies'] ?? {}) as Record<string, string>);
  const note = context.out.note;
  note(`Publishing ${what.full} ${what.version}${outline['private'] === true ? ' (private)' : ''} to ${context.registry}`);
  note(`  from      ${source}`);
  note(`  platform  ${String(outline['platform'])}, gren ${String(outline['gren-version'])}`);
  note(`  modules   ${modules.length}${kernel > 0 ? ` (${kernel} kernel)` : ''}, bundle ${formatBytes(bundle.bytes.length)}`);
  if (dependencies.length === 0) note('  depends   on nothing');
  for (const [index, [name, range]] of dependencies.entries()) note(`  ${index === 0 ? 'depends ' : '        '}  ${name} ${range}`);
}

export const publishCommand: CommandSpec<Context> = {
  name: 'publish',
  args: ['[PATH]'],
  summary: 'Publish a package folder (default: the current folder) or a .pkg.gz bundle.',
  details: [
    'A folder is bundled as the gren compiler bundles packages: its gren.json and every module of src/, ' +
      'kernel JavaScript included. A .pkg.gz file is uploaded as it is. Needs the publish role in the identity.',
  ],
  options: { 'dry-run': { type: 'boolean', description: 'Show what would be published, and stop there.' } },
  examples: ['gren-registry publish', 'gren-registry publish ../my-package', 'gren-registry publish gren_packages/robin_example__1_0_0.pkg.gz'],
  async run(context, input) {
    const target = path.resolve(context.cwd, input.positionals[0] ?? '.');
    const shown = path.relative(context.cwd, target) || '.';
    const { bundle, built } = await loadBundle(target);
    const what = identify(bundle, shown);
    describe(context, bundle, { full: what.pkg.full, version: what.version }, built ? `the folder ${shown}` : shown);
    if (input.options['dry-run']) {
      context.out.result({ name: what.pkg.full, version: what.version, size: bundle.bytes.length, dryRun: true }, () =>
        context.out.say('Nothing was published (--dry-run).'),
      );
      return;
    }
    const progress = context.out.progress('Uploading', bundle.bytes.length);
    let answer;
    try {
      answer = await context.client.upload<Published>(`${packagePath(what.pkg)}/${what.version}`, bundle.bytes, (sent) => progress.update(sent));
    } finally {
      progress.finish();
    }
    const body = answer.body;
    context.out.result(body, () => {
      context.out.say(`Published ${body.name} ${body.version}.`);
      context.out.say(`  sha256  ${body.sha256}`);
      context.out.say(`  commit  ${body.commit}`);
    });
  },
};
