import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { git, listTree, readBlobs, resolveCommit, type TreeEntry } from './git-cli.ts';

type Entry = { version?: unknown; sha256?: unknown; size?: unknown; revoked?: unknown };

/** What one index repository holds, as read by `git`, and what is wrong with it. */
export type RepositoryReport = {
  findings: string[];
  /** The commit of `main`, or null when there is none. */
  head: string | null;
  tree: Map<string, TreeEntry>;
  /** `author/name` of every package with an index.json on `main`. */
  packages: string[];
  /** Paths of the gren.json files on `main` that say `"private": true`. */
  privateOutlines: string[];
};

const indexPath = /^packages\/([^/]+)\/([^/]+)\/index\.json$/;

/** `git fsck --full`: every line it reports (dangling objects aside) is a finding. */
async function fsck(label: string, gitDir: string): Promise<string[]> {
  const result = await git(gitDir, ['fsck', '--full', '--no-dangling', '--no-progress']);
  const lines = `${result.stdout.toString('utf8')}\n${result.stderr}`
    .replace(/\n\s*to\s+/g, ' to ')
    .split('\n')
    .map((l) => l.trim().replace(/\s+/g, ' '))
    .filter((l) => l !== '');
  const findings = lines.map((line) => `${label}: git fsck: ${line}`);
  if (result.code !== 0 && findings.length === 0) findings.push(`${label}: git fsck exited with ${result.code}`);
  return findings;
}

async function readAll(label: string, gitDir: string, entries: TreeEntry[], findings: string[]): Promise<Map<string, Buffer | null>> {
  const contents = new Map<string, Buffer | null>();
  try {
    await readBlobs(gitDir, [...new Set(entries.map((e) => e.oid))], (oid, content) => contents.set(oid, content && Buffer.from(content)));
  } catch (err) {
    findings.push(`${label}: ${(err as Error).message}`);
  }
  return contents;
}

/** Checks one index.json against the files beside it; returns the bundles to hash, by blob id. */
function checkIndex(label: string, file: string, text: Buffer | null, tree: Map<string, TreeEntry>, findings: string[]) {
  const [, author, name] = indexPath.exec(file) ?? [];
  const folder = `packages/${author}/${name}`;
  const toHash: Array<{ entry: TreeEntry; sha256: unknown; size: unknown; where: string }> = [];
  const listed = new Set<string>([file]);
  let index: { name?: unknown; versions?: unknown };
  try {
    index = JSON.parse(text?.toString('utf8') ?? '') as typeof index;
  } catch {
    findings.push(`${label}: ${file} is not valid JSON`);
    return { toHash, listed };
  }
  if (index.name !== `${author}/${name}`) findings.push(`${label}: ${file} names the package ${JSON.stringify(index.name)}`);
  const versions = Array.isArray(index.versions) ? (index.versions as Entry[]) : [];
  if (!Array.isArray(index.versions)) findings.push(`${label}: ${file} has no versions list`);
  for (const entry of versions) {
    const where = `${folder} ${String(entry.version)}`;
    const outline = `${folder}/${String(entry.version)}/gren.json`;
    const bundle = `${folder}/${String(entry.version)}/bundle.pkg.gz`;
    listed.add(outline).add(bundle);
    if (!tree.has(outline)) findings.push(`${label}: ${where}: gren.json is missing`);
    const bundleEntry = tree.get(bundle);
    if (entry.revoked) {
      if (bundleEntry) findings.push(`${label}: ${where} is revoked but its bundle is still in the index`);
    } else if (!bundleEntry) {
      findings.push(`${label}: ${where}: bundle.pkg.gz is missing`);
    } else {
      toHash.push({ entry: bundleEntry, sha256: entry.sha256, size: entry.size, where });
    }
  }
  return { toHash, listed };
}

/** Bundle and gren.json files that no index.json lists. */
function unlisted(label: string, tree: Map<string, TreeEntry>, listed: Set<string>): string[] {
  return [...tree.keys()].filter((p) => p.startsWith('packages/') && !listed.has(p)).map((p) => `${label}: ${p} is not listed in its package's index.json`);
}

type Wanted = ReturnType<typeof checkIndex>['toHash'][number];

/** Hashes every listed bundle once, streaming them from git, and compares size and SHA-256. */
async function checkBundles(label: string, gitDir: string, wanted: Wanted[]): Promise<string[]> {
  const findings: string[] = [];
  const byOid = new Map<string, Wanted[]>();
  for (const w of wanted) byOid.set(w.entry.oid, [...(byOid.get(w.entry.oid) ?? []), w]);
  const hashed = readBlobs(gitDir, [...byOid.keys()], (oid, content) => {
    const sha256 = content && crypto.createHash('sha256').update(content).digest('hex');
    for (const w of byOid.get(oid) ?? []) {
      if (content === null) findings.push(`${label}: ${w.where}: the bundle's object ${oid} is missing`);
      else if (content.length !== w.size) findings.push(`${label}: ${w.where}: the bundle has ${content.length} bytes, index.json says ${String(w.size)}`);
      else if (sha256 !== w.sha256) findings.push(`${label}: ${w.where}: the bundle's SHA-256 differs from index.json`);
    }
  });
  await hashed.catch((err: Error) => findings.push(`${label}: ${err.message}`));
  return findings;
}

/**
 * Checks an index repository: git's own integrity check, then every index.json entry of
 * `main` against its files: gren.json present, bundle present with the recorded size and
 * SHA-256 unless revoked, revoked versions without a bundle, no file that no entry lists.
 */
export async function checkRepository(label: string, gitDir: string): Promise<RepositoryReport> {
  const report: RepositoryReport = { findings: [], head: null, tree: new Map(), packages: [], privateOutlines: [] };
  if (!fs.existsSync(path.join(gitDir, 'HEAD'))) {
    report.findings.push(`${label}: ${gitDir} is not a Git repository`);
    return report;
  }
  report.findings.push(...(await fsck(label, gitDir)));
  report.head = await resolveCommit(gitDir, 'refs/heads/main');
  if (report.head === null) {
    report.findings.push(`${label}: the branch main does not resolve to a commit`);
    return report;
  }
  report.tree = await listTree(gitDir, report.head);
  const files = [...report.tree.values()];
  const indexes = files.filter((e) => indexPath.test(e.path));
  const outlines = files.filter((e) => e.path.endsWith('/gren.json'));
  const small = await readAll(label, gitDir, [...indexes, ...outlines], report.findings);
  const listed = new Set<string>();
  const toHash: Wanted[] = [];
  for (const entry of indexes) {
    const checked = checkIndex(label, entry.path, small.get(entry.oid) ?? null, report.tree, report.findings);
    checked.listed.forEach((p) => listed.add(p));
    toHash.push(...checked.toHash);
    report.packages.push(entry.path.split('/').slice(1, 3).join('/'));
  }
  report.findings.push(...unlisted(label, report.tree, listed));
  for (const outline of outlines) {
    if (/"private"\s*:\s*true/.test(small.get(outline.oid)?.toString('utf8') ?? '')) report.privateOutlines.push(outline.path);
  }
  report.findings.push(...(await checkBundles(label, gitDir, toHash)));
  return report;
}
