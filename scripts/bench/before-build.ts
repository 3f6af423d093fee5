import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { BEFORE_FILES } from './before-modules.ts';
import { HELD_PADDING } from './held-bundles.ts';
import { treeOfMain, type Acknowledged, type Durability, type RegistryBuild, type RoundTokens } from './registry-build.ts';
import type { Workload } from './publish-workloads.ts';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const script = (name: string) => path.join(import.meta.dirname, name);

/** The registry at an earlier commit, in a folder of the project's own (see `extractBuild`), and how to remove it. */
export type BeforeBuild = RegistryBuild & { remove(): void };

/** The full id of the commit `rev` names in this repository. */
function commitOf(rev: string): string {
  try {
    return execFileSync('git', ['rev-parse', '--verify', '--quiet', `${rev}^{commit}`], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    throw new Error(`--before: "${rev}" names no commit of this repository`);
  }
}

/**
 * Writes the tree of `commit` (`git archive`) to a new folder of the run's own,
 * `<project>/.bench/before-<commit>-XXXXXX/`. Inside the project, Node finds its packages by
 * walking up to the project's node_modules, so the earlier build runs on the dependencies
 * installed here; it fails unless each of the build's dependencies is installed, and each file
 * the benchmark loads from it is there.
 */
function extractBuild(commit: string): string {
  fs.mkdirSync(path.join(repoRoot, '.bench'), { recursive: true });
  const folder = fs.mkdtempSync(path.join(repoRoot, '.bench', `before-${commit.slice(0, 12)}-`));
  try {
    execFileSync('tar', ['-x', '-C', folder], { input: execFileSync('git', ['archive', commit], { cwd: repoRoot, maxBuffer: 1 << 30 }) });
    const missingFiles = ['scripts/start.ts', 'package.json', ...BEFORE_FILES].filter((file) => !fs.existsSync(path.join(folder, file)));
    const { dependencies = {} } = fs.existsSync(path.join(folder, 'package.json')) ? (JSON.parse(fs.readFileSync(path.join(folder, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> }) : {};
    const missingPackages = Object.keys(dependencies).filter((name) => !fs.existsSync(path.join(repoRoot, 'node_modules', name)));
    const lacks = [...missingFiles.map((f) => `the file ${f}`), ...missingPackages.map((p) => `the package ${p} in node_modules`)];
    if (lacks.length > 0) throw new Error(`--before ${commit.slice(0, 12)}: the benchmark cannot run this build: it needs ${lacks.join(', ')}`);
  } catch (err) {
    fs.rmSync(folder, { recursive: true, force: true });
    throw err;
  }
  return folder;
}

/** Fills `dir` with the earlier build's own code (before-fill.ts, in a child process). */
async function fill(root: string, dir: string, workload: Workload, versions: number, padding = HELD_PADDING): Promise<void> {
  execFileSync(process.execPath, [script('before-fill.ts'), root, dir, workload.key, String(versions), String(padding)], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'] });
}

/** Tokens minted by the earlier build's admin tools in a child process (before-access.ts), which revokes them when its stdin closes. */
async function tokens(root: string, dir: string, authors: string[]): Promise<RoundTokens> {
  const child = spawn(process.execPath, [script('before-access.ts'), root, dir], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = once(child, 'exit');
  const close = async () => {
    child.stdin.end();
    await exited;
  };
  child.stdin.write(`${JSON.stringify({ authors })}\n`);
  const lines = readline.createInterface({ input: child.stdout });
  const [line] = (await Promise.race([once(lines, 'line'), exited.then(() => [null])])) as [string | null];
  lines.close();
  const answer = line === null ? { refused: 'the token minter exited without an answer' } : (JSON.parse(line) as { tokens: Record<string, string> } | { refused: string });
  if (!('tokens' in answer)) {
    await close();
    throw new Error(`publish tokens of the earlier build: ${answer.refused}`);
  }
  return {
    tokenFor(author) {
      const token = answer.tokens[author];
      if (token === undefined) throw new Error(`no publish token minted for ${author}`);
      return token;
    },
    close,
  };
}

/** After a kill -9: how many acknowledged publishes `git` finds whole in that build's layout: bundle.pkg.gz and gren.json in `main`'s tree. */
function durable(dir: string, acknowledged: Acknowledged[]): Durability {
  const tree = treeOfMain(path.join(dir, 'index.git'));
  const whole = ({ name, version }: Acknowledged) => tree.has(`packages/${name}/${version}/bundle.pkg.gz`) && tree.has(`packages/${name}/${version}/gren.json`);
  return { acknowledged: acknowledged.length, whole: acknowledged.filter(whole).length };
}

/**
 * The registry as it was at `rev`, a build that keeps bundles in `main`'s tree, extracted into
 * the project (removed by `remove`), filled and given tokens by its own code, started as its own
 * `node scripts/start.ts`. It has no publish limit to lift.
 */
export function beforeBuild(rev: string): BeforeBuild {
  const commit = commitOf(rev);
  const root = extractBuild(commit);
  return {
    key: 'before',
    label: `registry before ${rev}`,
    root,
    env: {},
    logsTimings: false,
    fill: (dir, workload, versions, padding) => fill(root, dir, workload, versions, padding),
    tokens: (dir, authors) => tokens(root, dir, authors),
    durable,
    wholeMeans: 'bundle.pkg.gz and gren.json on main',
    remove() {
      fs.rmSync(root, { recursive: true, force: true });
      try {
        fs.rmdirSync(path.dirname(root));
      } catch {
        // .bench holds something else too (another run's build): left as it is.
      }
    },
  };
}
