import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { shellQuote } from '../../scripts/client/shell-quote.ts';
import { decodeBundle, type BundleContent } from './bundle.ts';
import { tempDir } from './registry.ts';

/*
 * The real Gren compiler's front end, the `gren-lang` npm package (a development dependency),
 * in a throwaway project. What it does, read from its source (src/Main.gren, src/Git.gren,
 * src/Terminal/PackageInstall.gren at tag 0.6.3, Compiler.Paths of gren-lang/compiler-node)
 * and checked by running it:
 *
 * - Its back end is a native binary it downloads on first use into
 *   `$XDG_CACHE_HOME/gren/<version>/bin/gren` (default `$HOME/.cache/...`), or, when
 *   GREN_BIN is set, the file GREN_BIN names, which must exist. Every command checks it first,
 *   even `gren --version` (which then prints `0.6.3` without running it).
 * - `gren make <Module>` resolves and installs the dependencies first, then starts the back
 *   end with no arguments and writes one line of JSON to its stdin (`{"command":"make",
 *   "entry-points":[...],"dependencies":{<name>:{"outline","sources"}},...}`, then a newline)
 *   without ever closing it; its exit code is gren's. So the stand-in below reads that one
 *   line (reading to the end would wait forever), keeps it, and exits 0.
 * - `gren package install` (no argument) installs the dependencies and never starts the back
 *   end; `gren package install <author>/<name>` runs `git ls-remote --tags` of the package,
 *   takes the highest tag that is a version, X.Y.Z, and, without asking (a run without a
 *   terminal takes every question's default), adds it to gren.json: an application gets X.Y.Z,
 *   a package the range `X.Y.0 <= v < (X+1).0.0`, then installs X.Y.0, which must be a tag too.
 * - Installing a package at a version (an application's exact version, a package's range's
 *   lower bound: no other version is ever tried) reads `gren_packages/<author>_<name>__<x>_<y>_<z>.pkg.gz`
 *   when present; otherwise it clones with `git clone --branch <version> --depth 1
 *   https://github.com/<author>/<name>.git` into `$HOME/.cache/gren/<compiler version>/packages/<author>_<name>__<x>_<y>_<z>`
 *   (reused as it is when that folder exists), reads gren.json and src/, and writes the bundle
 *   (its outline re-encoded, the sources as read) into `gren_packages/`. Git's exit code 128
 *   reads as "no such version"; each git command may print at most 4096 bytes and take 30 s,
 *   past which gren kills it and fails: `git ls-remote --tags` lists about 70 versions at most.
 */

/** The version of the compiler front end installed in node_modules. */
export function grenCompilerVersion(): string {
  const manifest = path.resolve(import.meta.dirname, '../../node_modules/gren-lang/package.json');
  return (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { version: string }).version;
}

/** What a run of gren did: its exit code and output, the bundles in gren_packages/ afterwards, and what the back end was sent. */
export type GrenRun = {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Every `gren_packages/*.pkg.gz`, by file name, decoded. */
  bundles: Map<string, BundleContent>;
  /** The command the front end sent the back end, or null when it did not start it. */
  backend: { command: string; 'entry-points'?: string[]; dependencies?: Record<string, BundleContent> } | null;
};

export type RunOptions = {
  /** Added to the environment of the run, over the project's own. */
  env?: Record<string, string>;
  /** A command line gren is run through, such as `[node, gren-registry.ts, 'exec', '--']`. */
  via?: string[];
};

/** A project folder with its own HOME, git configuration and compiler back end. */
export type GrenProject = {
  dir: string;
  home: string;
  /** The global git config file of the project's HOME (GIT_CONFIG_GLOBAL), empty at first. */
  gitConfig: string;
  /** The environment every run gets: PATH with gren first, HOME, no system or user git config, no prompts, GREN_BIN. */
  env: Record<string, string>;
  run(args: string[], options?: RunOptions): Promise<GrenRun>;
  /** The project's gren.json now. */
  outline(): Record<string, any>;
};

const runTimeoutMs = 90_000;

function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), content);
  }
}

/** The stand-in back end: keeps the one line of the command it is sent, then reports success. */
function writeBackend(file: string, commandFile: string): void {
  fs.writeFileSync(file, `#!/bin/sh\n# The compiler's back end, stood in for: keep the command sent, report success.\nhead -n 1 > ${shellQuote(commandFile)}\n`, { mode: 0o755 });
}

/**
 * A temporary project holding `files` (its gren.json and modules), with a HOME, a bin folder
 * holding `gren` and the stand-in back end, all removed at teardown. `run(['make', 'Main'])`
 * runs the real front end there.
 */
export function grenProject(t: { teardown(fn: () => unknown): void }, files: Record<string, string>): GrenProject {
  const root = tempDir('gren-project-');
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  const [dir, home, bin] = ['project', 'home', 'bin'].map((name) => path.join(root, name)) as [string, string, string];
  for (const folder of [dir, home, bin]) fs.mkdirSync(folder);
  writeFiles(dir, files);
  fs.symlinkSync(path.resolve(import.meta.dirname, '../../node_modules/gren-lang/bin/compiler'), path.join(bin, 'gren'));
  const backendCommand = path.join(root, 'backend-command.json');
  writeBackend(path.join(bin, 'backend'), backendCommand);
  const gitConfig = path.join(home, '.gitconfig');
  fs.writeFileSync(gitConfig, '');
  const env = {
    PATH: [bin, path.dirname(process.execPath), process.env['PATH'] ?? ''].join(path.delimiter),
    HOME: home,
    GIT_CONFIG_GLOBAL: gitConfig,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    GREN_BIN: path.join(bin, 'backend'),
  };
  return {
    dir,
    home,
    gitConfig,
    env,
    async run(args, options = {}) {
      fs.rmSync(backendCommand, { force: true });
      const ran = await runCommand([...(options.via ?? []), 'gren', ...args], dir, { ...env, ...options.env });
      const backend = fs.existsSync(backendCommand) ? JSON.parse(fs.readFileSync(backendCommand, 'utf8')) : null;
      return { ...ran, bundles: bundlesIn(dir), backend };
    },
    outline: () => JSON.parse(fs.readFileSync(path.join(dir, 'gren.json'), 'utf8')),
  };
}

/** Every bundle the compiler wrote into the project's gren_packages/, decoded. */
export function bundlesIn(dir: string): Map<string, BundleContent> {
  const folder = path.join(dir, 'gren_packages');
  if (!fs.existsSync(folder)) return new Map();
  const files = fs.readdirSync(folder).filter((file) => file.endsWith('.pkg.gz')).sort();
  return new Map(files.map((file) => [file, decodeBundle(fs.readFileSync(path.join(folder, file)))]));
}

/** Runs a command with only `env`, stdin closed; kills its whole process group if it outlives the time limit. */
function runCommand(command: string[], cwd: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const [program = '', ...args] = command;
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => process.kill(-(child.pid ?? 0), 'SIGKILL'), runTimeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr: stderr + (code === null ? `\n(killed after ${runTimeoutMs / 1000} s)` : '') });
    });
  });
}

/** The file name the compiler gives a package's bundle: `gren-lang/core` 7.4.0 → `gren_lang_core__7_4_0.pkg.gz`. */
export function bundleFileName(name: string, version: string): string {
  return `${name}__${version}`.replace(/[-./]/g, '_') + '.pkg.gz';
}

/** An application's gren.json for this compiler, depending on exact versions. */
export function applicationOutline(direct: Record<string, string>, indirect: Record<string, string> = {}, platform = 'node'): string {
  const outline = { type: 'application', platform, 'source-directories': ['src'], 'gren-version': grenCompilerVersion(), dependencies: { direct, indirect } };
  return JSON.stringify(outline, null, 4);
}

/** A package's gren.json (example/thing 1.0.0, exposing Thing) depending on version ranges. */
export function packageOutline(dependencies: Record<string, string> = {}, grenVersion = '0.6.0 <= v < 0.7.0'): string {
  const outline = {
    type: 'package',
    platform: 'common',
    name: 'example/thing',
    summary: 'A thing',
    license: 'BSD-3-Clause',
    version: '1.0.0',
    'exposed-modules': ['Thing'],
    'gren-version': grenVersion,
    dependencies,
  };
  return JSON.stringify(outline, null, 4);
}

/** An application's Main module (a Node program doing nothing). */
export const mainSource = 'module Main exposing (main)\n\nimport Node\n\nmain : Node.SimpleProgram {}\nmain =\n    Node.defineSimpleProgram (\\_ -> Node.endSimpleProgram (Task.succeed {}))\n';

/** The module `packageOutline()` exposes. */
export const thingSource = 'module Thing exposing (thing)\n\nthing : Int\nthing =\n    1\n';

/** The application the tests build, its Main importing Node: gren-lang/core 7.4.0 and gren-lang/node 6.1.1, and gren-lang/url 6.0.0 for node. */
export function exampleApplication(t: { teardown(fn: () => unknown): void }): GrenProject {
  return grenProject(t, {
    'gren.json': applicationOutline({ 'gren-lang/core': '7.4.0', 'gren-lang/node': '6.1.1' }, { 'gren-lang/url': '6.0.0' }),
    'src/Main.gren': mainSource,
  });
}
