import fs from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import { promisify } from 'node:util';

const gzip = promisify(zlib.gzip);
const gunzip = promisify(zlib.gunzip);

export type Outline = Record<string, unknown>;

/** A package bundle: the gzip bytes as uploaded, and what they hold. */
export type Bundle = {
  bytes: Buffer;
  outline: Outline;
  sources: Record<string, string>;
};

/** A package folder or bundle file that cannot be published as it is; the message names the file. */
export class BundleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BundleError';
  }
}

/** The keys of a package's gren.json in the order the compiler writes them. */
const outlineKeys = ['type', 'platform', 'name', 'summary', 'license', 'version', 'exposed-modules', 'gren-version', 'dependencies'];

const moduleSegment = /^[A-Z][A-Za-z0-9_]*$/;
const kernelFolder = 'Gren/Kernel';
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Gren's Dict order for String keys: by UTF-16 code units, as JavaScript compares strings. */
function byKey(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortedObject<T>(value: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(value).sort(([a], [b]) => byKey(a, b)));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The outline as the compiler encodes it into a bundle: its known keys in the compiler's
 * order, the `dependencies` and grouped `exposed-modules` sorted by key. Keys the compiler
 * does not know (such as `private`) are kept, after the known ones, so that the registry sees them.
 */
export function canonicalOutline(outline: Outline): Outline {
  const result: Outline = {};
  for (const key of outlineKeys) {
    if (!(key in outline)) continue;
    const value = outline[key];
    result[key] = (key === 'dependencies' || key === 'exposed-modules') && isObject(value) ? sortedObject(value) : value;
  }
  for (const [key, value] of Object.entries(outline)) {
    if (!outlineKeys.includes(key)) result[key] = value;
  }
  return result;
}

/** The module a file of `src/` defines: `.gren` files anywhere, `.js` files directly in `Gren/Kernel/`. */
export function moduleNameOf(relative: string): string | null {
  const posix = relative.split(path.sep).join('/');
  const isGren = posix.endsWith('.gren');
  const isKernel = posix.endsWith('.js') && path.posix.dirname(posix) === kernelFolder;
  if (!isGren && !isKernel) return null;
  const name = posix.slice(0, posix.lastIndexOf('.')).split('/').join('.');
  if (!name.split('.').every((segment) => moduleSegment.test(segment))) {
    throw new BundleError(`src/${posix} does not name a valid module: each part of a module name starts with a capital letter and holds only letters, digits and underscores.`);
  }
  return name;
}

/** Every regular file under `dir`, relative to it; symbolic links are skipped, as the compiler does. */
async function listFiles(dir: string, relative = ''): Promise<string[]> {
  const entries = await fs.readdir(path.join(dir, relative), { withFileTypes: true });
  const nested = await Promise.all(
    entries.map(async (entry) => {
      const child = path.join(relative, entry.name);
      if (entry.isDirectory()) return listFiles(dir, child);
      return entry.isFile() ? [child] : [];
    }),
  );
  return nested.flat();
}

async function readOutline(folder: string): Promise<Outline> {
  const file = path.join(folder, 'gren.json');
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new BundleError(`${folder} has no gren.json: give the folder of a Gren package, or a .pkg.gz bundle.`);
    throw err;
  }
  let outline: unknown;
  try {
    outline = JSON.parse(text);
  } catch (err) {
    throw new BundleError(`${file} is not valid JSON: ${(err as Error).message}.`);
  }
  if (!isObject(outline)) throw new BundleError(`${file} must hold a JSON object.`);
  if (outline['type'] !== 'package') {
    throw new BundleError(`${file} describes an ${String(outline['type'] ?? 'unknown kind of project')}: only packages ("type": "package") can be published.`);
  }
  return outline;
}

async function readSources(folder: string): Promise<Record<string, string>> {
  const src = path.join(folder, 'src');
  let files: string[];
  try {
    files = await listFiles(src);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new BundleError(`${folder} has no src folder: a package's modules live in src/.`);
    throw err;
  }
  const sources: Record<string, string> = {};
  for (const relative of files.sort(byKey)) {
    const name = moduleNameOf(relative);
    if (name === null) continue;
    if (name in sources) throw new BundleError(`src/${relative} defines module ${name} a second time.`);
    try {
      sources[name] = utf8.decode(await fs.readFile(path.join(src, relative)));
    } catch (err) {
      if (err instanceof TypeError) throw new BundleError(`src/${relative} is not valid UTF-8 text.`);
      throw err;
    }
  }
  return sortedObject(sources);
}

/** Encodes a bundle as the compiler does: JSON without spaces, `outline` then `sources`, gzipped. */
export async function encodeBundle(outline: Outline, sources: Record<string, string>): Promise<Buffer> {
  const json = JSON.stringify({ outline: canonicalOutline(outline), sources: sortedObject(sources) });
  return gzip(Buffer.from(json, 'utf8'));
}

/** Builds the bundle of the package in `folder` (its gren.json and the modules of its src/). */
export async function buildBundle(folder: string): Promise<Bundle> {
  const outline = canonicalOutline(await readOutline(folder));
  const sources = await readSources(folder);
  return { bytes: await encodeBundle(outline, sources), outline, sources };
}

/** Reads a bundle file as it is, to publish its exact bytes; its content is checked enough to name it. */
export async function readBundleFile(file: string): Promise<Bundle> {
  const bytes = await fs.readFile(file);
  let json: unknown;
  try {
    json = JSON.parse((await gunzip(bytes)).toString('utf8'));
  } catch {
    throw new BundleError(`${file} is not a bundle: expected gzip of {"outline", "sources"}.`);
  }
  if (!isObject(json) || !isObject(json['outline']) || !isObject(json['sources'])) {
    throw new BundleError(`${file} is not a bundle: expected gzip of {"outline", "sources"}.`);
  }
  return { bytes, outline: json['outline'], sources: json['sources'] as Record<string, string> };
}
