import fs from 'node:fs';
import path from 'node:path';
import { git, listRefs, listTree, readBlobs, resolveCommit, type RefEntry, type TreeEntry } from './git-cli.ts';
import { packagePaths } from '../../gateway/packages/version-index.ts';
import { checkContent, type LiveVersion } from './check-content.ts';

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
  /** The content refs, by name. */
  refs: Map<string, RefEntry>;
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

/**
 * Checks one index.json against the files beside it on `main` (each version's gren.json) and
 * the package's content refs (each unrevoked version's bundle and tag; none for a revoked one).
 * Returns the versions whose content to check, and the revoked ones.
 */
function checkIndex(label: string, file: string, text: Buffer | null, report: RepositoryReport) {
  const [, author = '', name = ''] = indexPath.exec(file) ?? [];
  const fullName = `${author}/${name}`;
  const paths = packagePaths(fullName);
  const live: LiveVersion[] = [];
  const revoked: Array<{ where: string; sha256: unknown; size: unknown }> = [];
  const listed = new Set<string>([file]);
  let index: { name?: unknown; versions?: unknown };
  try {
    index = JSON.parse(text?.toString('utf8') ?? '') as typeof index;
  } catch {
    report.findings.push(`${label}: ${file} is not valid JSON`);
    return { live, revoked, listed };
  }
  if (index.name !== fullName) report.findings.push(`${label}: ${file} names the package ${JSON.stringify(index.name)}`);
  const versions = Array.isArray(index.versions) ? (index.versions as Entry[]) : [];
  if (!Array.isArray(index.versions)) report.findings.push(`${label}: ${file} has no versions list`);
  for (const entry of versions) {
    const version = String(entry.version);
    const where = `packages/${fullName} ${version}`;
    const outline = paths.outline(version);
    listed.add(outline).add(paths.tagRef(version)).add(paths.bundleRef(version));
    if (!report.tree.has(outline)) report.findings.push(`${label}: ${where}: gren.json is missing`);
    const bundle = report.refs.get(paths.bundleRef(version));
    const tag = report.refs.get(paths.tagRef(version));
    if (entry.revoked) {
      if (bundle || tag) report.findings.push(`${label}: ${where} is revoked but its ${bundle ? 'bundle' : 'tag'} ref is still there`);
      revoked.push({ where, sha256: entry.sha256, size: entry.size });
      continue;
    }
    if (!bundle) report.findings.push(`${label}: ${where}: the bundle ref ${paths.bundleRef(version)} is missing`);
    if (!tag) report.findings.push(`${label}: ${where}: the tag ${paths.tagRef(version)} is missing`);
    const outlineOid = report.tree.get(outline)?.oid ?? null;
    if (bundle) live.push({ where, bundle: bundle.oid, tag: tag?.oid ?? null, outline: outlineOid, sha256: entry.sha256, size: entry.size });
  }
  return { live, revoked, listed };
}

/** Files of `main` and content refs that no index.json lists (a bundle on `main` is the layout before content refs). */
function unlisted(label: string, report: RepositoryReport, listed: Set<string>): string[] {
  const files = [...report.tree.keys()].filter((p) => p.startsWith('packages/') && !listed.has(p));
  const refs = [...report.refs.keys()].filter((ref) => !listed.has(ref));
  return [...files, ...refs].map((p) => `${label}: ${p} is not listed in its package's index.json`);
}

/**
 * Checks an index repository: git's own integrity check, then every index.json entry of
 * `main` against its gren.json and content refs (see `checkIndex`), every file and content ref
 * listed by an entry, each bundle's size and SHA-256, each tag's tree against its bundle, and
 * no revoked bundle left in any object of the repository.
 */
export async function checkRepository(label: string, gitDir: string): Promise<RepositoryReport> {
  const report: RepositoryReport = { findings: [], head: null, tree: new Map(), packages: [], privateOutlines: [], refs: new Map() };
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
  report.refs = await listRefs(gitDir, 'refs/namespaces/');
  const files = [...report.tree.values()];
  const indexes = files.filter((e) => indexPath.test(e.path));
  const outlines = files.filter((e) => e.path.endsWith('/gren.json'));
  const small = await readAll(label, gitDir, [...indexes, ...outlines], report.findings);
  const listed = new Set<string>();
  const live: LiveVersion[] = [];
  const revoked: Array<{ where: string; sha256: unknown; size: unknown }> = [];
  for (const entry of indexes) {
    const checked = checkIndex(label, entry.path, small.get(entry.oid) ?? null, report);
    checked.listed.forEach((p) => listed.add(p));
    live.push(...checked.live);
    revoked.push(...checked.revoked);
    report.packages.push(entry.path.split('/').slice(1, 3).join('/'));
  }
  report.findings.push(...unlisted(label, report, listed));
  for (const outline of outlines) {
    if (/"private"\s*:\s*true/.test(small.get(outline.oid)?.toString('utf8') ?? '')) report.privateOutlines.push(outline.path);
  }
  report.findings.push(...(await checkContent(label, gitDir, report.head, live, revoked)));
  return report;
}
