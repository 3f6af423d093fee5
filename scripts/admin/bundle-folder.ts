import fs from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import { promisify } from 'node:util';
import { isPackageName } from '../../gateway/packages/package-name.ts';
import { compareVersions, isVersion } from '../../gateway/packages/range.ts';

const gunzip = promisify(zlib.gunzip);

/** One `.pkg.gz` file of the folder: what it holds, or why it cannot be imported at all. */
export type FolderBundle = {
  file: string;
  bytes: Buffer;
  /** `author/name`, from the outline inside (file names are not trusted). */
  name: string;
  version: string;
  dependencies: string[];
};

export type Unreadable = { file: string; reason: string };

type Outline = { type?: unknown; name?: unknown; version?: unknown; dependencies?: unknown };

/** What a bundle's outline says it is; the registry validates everything else. */
function identify(file: string, bytes: Buffer, outline: Outline): FolderBundle | Unreadable {
  if (outline.type !== 'package') {
    return { file, reason: `its gren.json is of type "${String(outline.type)}", not a package` };
  }
  if (typeof outline.name !== 'string' || !isPackageName(outline.name)) return { file, reason: `its gren.json has no valid package name` };
  if (typeof outline.version !== 'string' || !isVersion(outline.version)) return { file, reason: `its gren.json has no valid version` };
  const deps = typeof outline.dependencies === 'object' && outline.dependencies !== null ? Object.keys(outline.dependencies) : [];
  return { file, bytes, name: outline.name, version: outline.version, dependencies: deps };
}

async function readOne(folder: string, file: string): Promise<FolderBundle | Unreadable> {
  const bytes = await fs.readFile(path.join(folder, file));
  let json: { outline?: unknown } | null;
  try {
    json = JSON.parse((await gunzip(bytes)).toString('utf8')) as { outline?: unknown } | null;
  } catch {
    return { file, reason: 'it is not a gzip of JSON' };
  }
  if (typeof json?.outline !== 'object' || json.outline === null) return { file, reason: 'it has no outline' };
  return identify(file, bytes, json.outline as Outline);
}

/** Reads every `.pkg.gz` of `folder`, sorted by file name. */
export async function readBundleFolder(folder: string): Promise<{ bundles: FolderBundle[]; unreadable: Unreadable[] }> {
  const files = (await fs.readdir(folder)).filter((file) => file.endsWith('.pkg.gz')).sort();
  const bundles: FolderBundle[] = [];
  const unreadable: Unreadable[] = [];
  for (const file of files) {
    const read = await readOne(folder, file);
    if ('reason' in read) unreadable.push(read);
    else bundles.push(read);
  }
  return { bundles, unreadable };
}

/**
 * Dependency order: a package comes after the packages of the folder it depends on, and a
 * package's versions come in ascending order. Packages in a dependency cycle keep name order
 * (the importer retries what was refused for a missing dependency, so a cycle costs a retry).
 */
export function dependencyOrder(bundles: FolderBundle[]): FolderBundle[] {
  const byPackage = new Map<string, FolderBundle[]>();
  for (const bundle of bundles) {
    const key = bundle.name.toLowerCase();
    byPackage.set(key, [...(byPackage.get(key) ?? []), bundle]);
  }
  const needs = new Map<string, Set<string>>();
  for (const [key, versions] of byPackage) {
    const deps = versions.flatMap((b) => b.dependencies.map((d) => d.toLowerCase())).filter((d) => d !== key && byPackage.has(d));
    needs.set(key, new Set(deps));
  }
  const ordered: string[] = [];
  const remaining = new Set([...byPackage.keys()].sort());
  while (remaining.size > 0) {
    const ready = [...remaining].filter((key) => [...(needs.get(key) ?? [])].every((dep) => !remaining.has(dep)));
    const next = ready.length > 0 ? ready : [[...remaining][0] as string];
    for (const key of next) {
      remaining.delete(key);
      ordered.push(key);
    }
  }
  return ordered.flatMap((key) => [...(byPackage.get(key) ?? [])].sort((a, b) => compareVersions(a.version, b.version)));
}
