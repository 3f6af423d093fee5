import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { spawn } from 'node:child_process';
import { git, readBlobs } from './git-cli.ts';
import { sourceTree } from '../../gateway/packages/source-tree.ts';
import { buildTreeSync } from '../../index-repo/tree-builder.ts';

/** An unrevoked version whose content to check: its bundle blob, its tag, its gren.json blob on `main`. */
export type LiveVersion = { where: string; bundle: string; tag: string | null; outline: string | null; sha256: unknown; size: unknown };

/** A revoked version: what its bundle was, to find it wherever it may still be. */
type RevokedVersion = { where: string; sha256: unknown; size: unknown };

/** Answers `git cat-file --batch-check` for each input line (objects or revision expressions such as `<ref>^{tree}`). */
function batchCheck(gitDir: string, inputs: string[], format: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', [`--git-dir=${gitDir}`, 'cat-file', `--batch-check=${format}`], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    child.stdin.on('error', () => {});
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.once('error', reject);
    child.once('close', () => resolve(Buffer.concat(out).toString('utf8').split('\n').slice(0, inputs.length)));
    child.stdin.end(inputs.map((line) => `${line}\n`).join(''));
  });
}

/** The tree a version's tag should hold, computed from its bundle and gren.json as the registry lays it out. */
function expectedTree(bundle: Buffer, outline: Buffer): string {
  const { sources } = JSON.parse(zlib.gunzipSync(bundle).toString('utf8')) as { sources: Record<string, string> };
  return buildTreeSync(sourceTree(outline, sources)).oid;
}

/** Each live version's bundle against index.json (size, SHA-256), and its tag's tree against the bundle. */
async function checkLive(label: string, gitDir: string, live: LiveVersion[]): Promise<string[]> {
  const findings: string[] = [];
  const tagTrees = await batchCheck(gitDir, live.map((v) => (v.tag ? `${v.tag}^{tree}` : 'missing')), '%(objectname)');
  const outlines = new Map<string, Buffer>();
  await readBlobs(gitDir, [...new Set(live.flatMap((v) => (v.outline ? [v.outline] : [])))], (oid, content) => content && outlines.set(oid, Buffer.from(content)));
  const byBundle = new Map<string, Array<{ version: LiveVersion; tagTree: string }>>();
  live.forEach((version, i) => byBundle.set(version.bundle, [...(byBundle.get(version.bundle) ?? []), { version, tagTree: (tagTrees[i] ?? '').split(' ')[0] ?? '' }]));
  await readBlobs(gitDir, [...byBundle.keys()], (oid, content) => {
    for (const { version, tagTree } of byBundle.get(oid) ?? []) {
      if (content === null) {
        findings.push(`${label}: ${version.where}: the bundle's object ${oid} is missing`);
        continue;
      }
      if (content.length !== version.size) findings.push(`${label}: ${version.where}: the bundle has ${content.length} bytes, index.json says ${String(version.size)}`);
      else if (crypto.createHash('sha256').update(content).digest('hex') !== version.sha256) findings.push(`${label}: ${version.where}: the bundle's SHA-256 differs from index.json`);
      const outline = version.outline ? outlines.get(version.outline) : undefined;
      if (!version.tag || !outline) continue;
      let expected: string | null = null;
      try {
        expected = expectedTree(content, outline);
      } catch {
        findings.push(`${label}: ${version.where}: the bundle cannot be read as a package`);
      }
      if (expected !== null && expected !== tagTree) findings.push(`${label}: ${version.where}: the tag's tree differs from the bundle's gren.json and sources`);
    }
  }).catch((err: Error) => findings.push(`${label}: ${err.message}`));
  return findings;
}

/** Every object of the repository, reachable or not, that is a revoked bundle (same size and SHA-256). */
async function checkRevoked(label: string, gitDir: string, revoked: RevokedVersion[]): Promise<string[]> {
  if (revoked.length === 0) return [];
  const bySize = new Map<number, RevokedVersion[]>();
  for (const version of revoked) if (typeof version.size === 'number') bySize.set(version.size, [...(bySize.get(version.size) ?? []), version]);
  const listing = await git(gitDir, ['cat-file', '--batch-all-objects', '--batch-check=%(objectname) %(objecttype) %(objectsize)']);
  if (listing.code !== 0) return [`${label}: git cat-file --batch-all-objects failed: ${listing.stderr.trim()}`];
  const candidates = listing.stdout
    .toString('utf8')
    .split('\n')
    .map((line) => line.split(' '))
    .filter(([, type, size]) => type === 'blob' && bySize.has(Number(size)))
    .map(([oid]) => oid as string);
  const findings: string[] = [];
  await readBlobs(gitDir, candidates, (oid, content) => {
    if (content === null) return;
    const sha256 = crypto.createHash('sha256').update(content).digest('hex');
    for (const version of bySize.get(content.length) ?? []) {
      if (version.sha256 === sha256) findings.push(`${label}: ${version.where} is revoked but its bundle is still in the repository (object ${oid})`);
    }
  });
  return findings;
}

/** Bundle files anywhere in the history of `main`: the layout before content refs, which a start of the registry converts. */
async function checkHistory(label: string, gitDir: string, head: string): Promise<string[]> {
  const result = await git(gitDir, ['rev-list', '--objects', head]);
  if (result.code !== 0) return [`${label}: git rev-list failed: ${result.stderr.trim()}`];
  const held = result.stdout
    .toString('utf8')
    .split('\n')
    .filter((line) => line.endsWith('/bundle.pkg.gz')).length;
  return held > 0 ? [`${label}: the history of main holds ${held} bundle files (the layout before content refs; starting the registry converts it)`] : [];
}

/**
 * The content of a repository: each unrevoked version's bundle and tag as published, no revoked
 * bundle left in any object (reachable or not), and no bundle in the history of `main`.
 */
export async function checkContent(label: string, gitDir: string, head: string, live: LiveVersion[], revoked: RevokedVersion[]): Promise<string[]> {
  return [...(await checkLive(label, gitDir, live)), ...(await checkRevoked(label, gitDir, revoked)), ...(await checkHistory(label, gitDir, head))];
}
