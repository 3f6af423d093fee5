import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { gitCmd } from './helpers/git.ts';

/**
 * The repository stands alone: a fresh clone runs, tests and documents itself with nothing
 * beside it. So no file it holds reads, links or mentions a path outside its own folder.
 *
 * The rule, applied to every text file Git tracks (and new files not yet added, unless ignored):
 * - no path into a sibling folder (the former `shared` one included), and no relative path that climbs above the repository from where it is
 *   written (more `../` than the file is deep);
 * - no absolute path into a person's or a machine's own folders: `/work/`, `/home/`, `/root/`,
 *   `/Users/`, `/mnt/`, `/media/`, `/Volumes/`, `/workspace/`, a Windows drive (`C:\`, `D:/`),
 *   a `file://` URL. A path counts when it starts a word: `https://host/home/` is a URL's path.
 * - Allowed: paths of the operating system a program or a deployment uses on any machine
 *   (`/proc/<pid>/cmdline`, `/dev/null`, `/tmp`, `/usr/bin/env` in a shebang, `/etc/nginx/`,
 *   `/var/lib/gren-registry` in the nginx example), URL paths of the registry (`/index/`,
 *   `/private/packages/`), and `$HOME/.gren/user`, the client's documented store.
 * - Every relative link of a Markdown file names a file or folder of the repository.
 * Binary files (a NUL byte in their first 8 KiB: the fixture bundles) are not read as text.
 * package-lock.json is checked like any other file: it records registry URLs, not paths.
 * This file alone is skipped: it spells out what it forbids.
 */

const root = path.resolve(import.meta.dirname, '..');
const self = path.relative(root, import.meta.filename).split(path.sep).join('/');

const machineFolders = ['work', 'home', 'root', 'Users', 'mnt', 'media', 'Volumes', 'workspace'];
const forbidden: Array<{ what: string; pattern: RegExp }> = [
  { what: 'a sibling folder', pattern: /\.\.\/shared\b/ },
  { what: 'an absolute path into a machine\'s own folders', pattern: new RegExp(`(?<![\\w.~/-])/(?:${machineFolders.join('|')})/`) },
  { what: 'a Windows drive path', pattern: /(?<![\w\\])[A-Za-z]:[\\/](?![\\/])[\w.-]/ },
  { what: 'a file:// URL', pattern: /\bfile:\/\//i },
];

/** The repository's files: tracked, plus new ones not ignored. Without Git (an unpacked archive), every file but the ignored folders. */
async function repositoryFiles(): Promise<string[]> {
  try {
    const out = await gitCmd(['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root });
    return [...new Set(out.split('\0').filter((f) => f !== '' && fs.existsSync(path.join(root, f))))].sort();
  } catch {
    const skip = new Set(['node_modules', '.git', 'data']);
    return (fs.readdirSync(root, { recursive: true, encoding: 'utf8' }) as string[])
      .filter((f) => !skip.has(f.split(path.sep)[0] as string) && fs.statSync(path.join(root, f)).isFile())
      .map((f) => f.split(path.sep).join('/'))
      .sort();
  }
}

/** The text of every file that is not binary. */
async function textFiles(): Promise<Array<{ file: string; text: string }>> {
  const files = await repositoryFiles();
  const texts: Array<{ file: string; text: string }> = [];
  for (const file of files) {
    if (file === self) continue;
    const bytes = fs.readFileSync(path.join(root, file));
    if (bytes.subarray(0, 8192).includes(0)) continue;
    texts.push({ file, text: bytes.toString('utf8') });
  }
  return texts;
}

function lineOf(text: string, index: number): number {
  return text.slice(0, index).split('\n').length;
}

/** Relative paths that climb above the repository from the folder of `file`. */
function climbsOut(file: string, text: string): string[] {
  const depth = file.split('/').length - 1;
  const found: string[] = [];
  for (const match of text.matchAll(/(?<![\w.])((?:\.\.\/)+)[\w.-]+/g)) {
    const ups = (match[1] as string).length / 3;
    if (ups > depth) found.push(`${file}:${lineOf(text, match.index)}: ${match[0]}`);
  }
  return found;
}

/** Relative Markdown links (`[text](target)`) whose target is not in the repository. */
function brokenLinks(file: string, text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(/\]\(([^)\s]+)\)/g)) {
    const target = (match[1] as string).split('#')[0] as string;
    if (target === '' || /^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
    const resolved = path.resolve(root, path.dirname(file), target);
    if (!resolved.startsWith(root + path.sep) || !fs.existsSync(resolved)) found.push(`${file}:${lineOf(text, match.index)}: ${match[1]}`);
  }
  return found;
}

test('no file reads, links or mentions a path outside the repository', async (t) => {
  const files = await textFiles();
  t.true(files.length > 100, `the repository's files were found (${files.length})`);
  t.true(files.some((f) => f.file === 'package-lock.json'), 'package-lock.json is checked too');
  const found: string[] = [];
  for (const { file, text } of files) {
    for (const { what, pattern } of forbidden) {
      for (const match of text.matchAll(new RegExp(pattern.source, pattern.flags + 'g'))) {
        found.push(`${file}:${lineOf(text, match.index)}: ${what}: ${text.slice(match.index, match.index + 40).split('\n')[0]}`);
      }
    }
    found.push(...climbsOut(file, text));
    if (file.endsWith('.md')) found.push(...brokenLinks(file, text));
  }
  t.deepEqual(found, []);
});

test('the rule catches what it is meant to catch, and lets the system paths through', (t) => {
  // Built, so that this file itself names no path outside the repository.
  const sibling = ['..', 'shared'].join('/');
  const hits = (text: string) => forbidden.filter(({ pattern }) => pattern.test(text)).map(({ what }) => what);
  for (const text of [`fs.readFileSync('${sibling}/PROTOCOL.md')`, 'see /work/shared/STYLE.md', 'cd /home/robin/app', 'C:\\Users\\robin', 'D:/gren', 'file:///etc/passwd', '"/Users/robin/x"']) {
    t.true(hits(text).length > 0, text);
  }
  for (const text of ['#!/usr/bin/env bash', '/proc/123/cmdline', '> /dev/null', 'https://github.com/home/x', 'GET /private/packages/a/b/index.json', '/var/lib/gren-registry', '$HOME/.gren/user', "'/index/'", 'a:b', 'new RegExp(`^${x}$`)']) {
    t.deepEqual(hits(text), [], text);
  }
  t.deepEqual(climbsOut('test/x.test.ts', `path.resolve(here, '../${sibling}')`), [`test/x.test.ts:1: ../${sibling}`]);
  t.deepEqual(climbsOut('test/helpers/x.ts', "path.resolve(here, '../fixtures/bundles')"), []);
  t.deepEqual(brokenLinks('README.md', '[protocol](docs/nowhere.md) [site](https://gren-lang.org) [map](ARCHITECTURE.md#the-map)'), ['README.md:1: docs/nowhere.md']);
});

test('every fixture bundle is listed in the fixtures README, and every file it lists is there', (t) => {
  const dir = path.join(root, 'test/fixtures/bundles');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.pkg.gz')).sort();
  const readme = fs.readFileSync(path.join(dir, 'README.md'), 'utf8');
  const listed = [...readme.matchAll(/^\| `([^`]+\.pkg\.gz)` \|/gm)].map((m) => m[1]).sort();
  t.true(files.length > 0);
  t.deepEqual(listed, files);
});
